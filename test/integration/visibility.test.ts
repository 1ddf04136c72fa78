/**
 * The one visibility rule (src/auth/visibility.ts, README "Who sees what"), on every route that shows
 * something about an org: a reporter sees the district's figures and its own org's, never another org's.
 */
import t from 'tap'
import { createEach, getOk, getPurchase, listPurchases, postVoid, putBudget } from '../api.js'
import { createKey, createOrgWithReporter, fenOf, yuan } from '../factories.js'
import { assertProblem, buildTestApp, FIXED_NOW } from '../helper.js'

const ctx = await buildTestApp(t, { now: FIXED_NOW })
const { app } = ctx
const finance = (await createKey(ctx, 'finance')).auth
const a = await createOrgWithReporter(ctx, 'agency')
const b = await createOrgWithReporter(ctx, 'agency')
const [, bRecord] = await createEach(ctx, [
  [a, 'canteen', '1000.00', '2024-05-15'],
  [b, 'canteen', '2000.00', '2024-05-16'],
  [a, 'wholesale', '30000.00', '2024-04-01'],
  [b, 'wholesale', '40000.00', '2024-04-02'],
])
// Both units declared and both below their reserved share: each would appear in the report.
await putBudget(ctx, 2024, a.orgId, '820000.00')
await putBudget(ctx, 2024, b.orgId, '900000.00')

const get = (url: string, auth = a.auth) => app.inject({ method: 'GET', url, headers: auth })

t.test('district-wide totals: every role, the same figures', async (t) => {
  const asReporter = await getOk<{ grand_total: string; computed_at: string }>(
    ctx,
    '/v1/totals?year=2024',
    a.auth,
  )
  const asFinance = await getOk<{ grand_total: string }>(ctx, '/v1/totals?year=2024', finance)
  t.equal(asReporter.grand_total, '73000.00')
  t.same(asReporter, { ...asFinance, computed_at: asReporter.computed_at })
})

t.test("one org's totals: its own reporter, finance; another org's reporter gets 403", async (t) => {
  const own = await getOk<{ grand_total: string }>(ctx, `/v1/totals?year=2024&org_id=${a.orgId}`, a.auth)
  t.equal(own.grand_total, '31000.00')
  const byFinance = await getOk<{ grand_total: string }>(
    ctx,
    `/v1/totals?year=2024&org_id=${b.orgId}`,
    finance,
  )
  t.equal(byFinance.grand_total, '42000.00')
  const other = assertProblem(t, await get(`/v1/totals?year=2024&org_id=${b.orgId}`), 403, 'forbidden')
  t.notMatch(JSON.stringify(other), /42000/, 'no figure of the other org')
})

t.test("breakdowns: by org a reporter's rows are its own; another org named is 403", async (t) => {
  type Breakdown = { rows: { key: string; total: string }[] }
  const mine = await getOk<Breakdown>(ctx, '/v1/totals/breakdown?year=2024&by=org', a.auth)
  t.same(
    mine.rows.map((r) => [r.key, r.total]),
    [[a.orgId, '31000.00']],
  )
  const all = await getOk<Breakdown>(ctx, '/v1/totals/breakdown?year=2024&by=org', finance)
  t.same(all.rows.map((r) => r.key).sort(), [a.orgId, b.orgId].sort(), 'finance sees every org')
  const district = await getOk<Breakdown>(ctx, '/v1/totals/breakdown?year=2024&by=channel', a.auth)
  t.equal(
    yuan(district.rows.reduce((s, r) => s + fenOf(r.total), 0n)),
    '73000.00',
    'by channel: district-wide',
  )
  for (const by of ['org', 'month', 'channel', 'region']) {
    assertProblem(t, await get(`/v1/totals/breakdown?year=2024&by=${by}&org_id=${b.orgId}`), 403, 'forbidden')
  }
})

t.test("the monthly report lists a reporter's own canteen unit only", async (t) => {
  type Report = { canteen_units_below: { org_id: string }[]; channels: unknown[] }
  const mine = await getOk<Report>(ctx, '/v1/reports/monthly?year=2024&month=5', a.auth)
  t.same(
    mine.canteen_units_below.map((u) => u.org_id),
    [a.orgId],
  )
  const all = await getOk<Report>(ctx, '/v1/reports/monthly?year=2024&month=5', finance)
  t.same(all.canteen_units_below.map((u) => u.org_id).sort(), [a.orgId, b.orgId].sort())
  t.same(mine.channels, all.channels, 'channel figures are district-wide for everyone')
  for (const format of ['csv', 'xlsx']) {
    const res = await get(`/v1/reports/monthly?year=2024&month=5&format=${format}`)
    t.equal(res.statusCode, 200)
    if (format === 'csv') t.notMatch(res.body, b.orgId, "the CSV holds no other org's unit")
  }
})

t.test('canteen budgets: a reporter lists its own unit only', async (t) => {
  const mine = await getOk<{ items: { org_id: string }[] }>(ctx, '/v1/canteen-budgets/2024', a.auth)
  t.same(
    mine.items.map((u) => u.org_id),
    [a.orgId],
  )
})

t.test("another org's record: 404 on read and on void, 403 for a filter naming it", async (t) => {
  assertProblem(t, await getPurchase(ctx, a.auth, bRecord!.id), 404, 'not_found')
  assertProblem(t, await postVoid(ctx, a.auth, bRecord!.id, 'not mine'), 404, 'not_found')
  assertProblem(t, await listPurchases(ctx, a.auth, { org_id: b.orgId }), 403, 'forbidden')
  assertProblem(t, await get(`/v1/purchases/export?org_id=${b.orgId}`), 403, 'forbidden')
  t.equal((await getPurchase(ctx, b.auth, bRecord!.id)).json().status, 'active', 'the record is untouched')
})
