/** Purchases: who may do what — 401 without a key, 403 for the wrong role or org, 404 for others' records. */
import { sql } from 'drizzle-orm'
import t from 'tap'
import {
  createPurchases,
  getPurchase,
  listAll,
  listPurchases,
  postBatch,
  postPurchase,
  postVoid,
} from '../api.js'
import { createKey, createOrgWithReporter, type Purchase, purchaseInput } from '../factories.js'
import { type Auth, assertProblem, bearer, buildTestApp, countRows } from '../helper.js'

const ctx = await buildTestApp(t)
const admin: Auth = ctx.adminAuth

/** Two orgs with a reporter each and a few records each. */
async function twoOrgs() {
  const a = await createOrgWithReporter(ctx)
  const b = await createOrgWithReporter(ctx)
  const aRows = await createPurchases(ctx, a.auth, [{}, { channel: 'canteen' }])
  const bRows = await createPurchases(ctx, b.auth, [{}, { channel: 'enterprise' }])
  return { a, b, aRows, bRows }
}

t.test('no key, a malformed header or an unknown key → 401 on every purchases route', async (t) => {
  const { aRows } = await twoOrgs()
  const id = aRows[0]!.id
  const requests = [
    { method: 'GET' as const, url: '/v1/purchases' },
    { method: 'GET' as const, url: `/v1/purchases/${id}` },
    { method: 'POST' as const, url: '/v1/purchases', payload: purchaseInput() },
    { method: 'POST' as const, url: '/v1/purchases/batch', payload: { items: [purchaseInput()] } },
    {
      method: 'POST' as const,
      url: '/v1/purchases/batch?dry_run=true',
      payload: { items: [purchaseInput()] },
    },
    { method: 'POST' as const, url: `/v1/purchases/${id}/void`, payload: { reason: 'x' } },
  ]
  for (const r of requests) {
    for (const headers of [
      {},
      { authorization: 'Bearer' },
      { authorization: 'Basic dXNlcjpwYXNz' },
      bearer('not-a-real-key'),
      { authorization: `Bearer ${'x'.repeat(5000)}` },
    ]) {
      const res = await ctx.app.inject({ ...r, headers })
      assertProblem(t, res, 401, 'unauthorized')
    }
  }
  t.equal(
    ((await getPurchase(ctx, admin, id)).json() as Purchase).status,
    'active',
    'void without a key did nothing',
  )
})

t.test('a revoked key → 401 at once', async (t) => {
  const created = await ctx.app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: admin,
    payload: { name: 'soon revoked', role: 'admin' },
  })
  t.equal(created.statusCode, 201, created.body)
  const { id, secret } = created.json() as { id: string; secret: string }
  const org = await createOrgWithReporter(ctx)
  t.equal((await postPurchase(ctx, bearer(secret), purchaseInput({ org_id: org.orgId }))).statusCode, 201)
  const del = await ctx.app.inject({ method: 'DELETE', url: `/v1/api-keys/${id}`, headers: admin })
  t.ok(del.statusCode < 300, `revoked: ${del.statusCode}`)
  assertProblem(
    t,
    await postPurchase(ctx, bearer(secret), purchaseInput({ org_id: org.orgId })),
    401,
    'unauthorized',
  )
  assertProblem(t, await listPurchases(ctx, bearer(secret), {}), 401, 'unauthorized')
})

t.test('finance reads everything and writes nothing', async (t) => {
  const { a, aRows, bRows } = await twoOrgs()
  const finance = (await createKey(ctx, 'finance')).auth
  assertProblem(t, await postPurchase(ctx, finance, purchaseInput({ org_id: a.orgId })), 403, 'forbidden')
  assertProblem(t, await postBatch(ctx, finance, [purchaseInput({ org_id: a.orgId })]), 403, 'forbidden')
  assertProblem(
    t,
    await postBatch(ctx, finance, [purchaseInput({ org_id: a.orgId })], { dryRun: true }),
    403,
    'forbidden',
  )
  assertProblem(t, await postVoid(ctx, finance, aRows[0]!.id), 403, 'forbidden')
  // Even an invalid body from finance is a 403, not a 400: the role is checked first.
  assertProblem(t, await postPurchase(ctx, finance, { amount: 1 }), 403, 'forbidden')
  t.equal(((await getPurchase(ctx, admin, aRows[0]!.id)).json() as Purchase).status, 'active')
  t.equal(await countRows(ctx, sql`org_id = ${a.orgId}`), 2, 'nothing written')
  for (const p of [...aRows, ...bRows]) t.equal((await getPurchase(ctx, finance, p.id)).statusCode, 200)
  const all = await listAll(ctx, finance, { limit: 500 })
  for (const p of [...aRows, ...bRows])
    t.ok(
      all.some((x) => x.id === p.id),
      `finance lists ${p.id}`,
    )
  const filtered = await listAll(ctx, finance, { org_id: a.orgId })
  t.same(filtered.map((p) => p.id).sort(), aRows.map((p) => p.id).sort(), 'finance may filter by any org')
})

t.test('a reporter creating for another org → 403, nothing stored', async (t) => {
  const { a, b } = await twoOrgs()
  const before = await countRows(ctx, sql`true`)
  assertProblem(t, await postPurchase(ctx, a.auth, purchaseInput({ org_id: b.orgId })), 403, 'forbidden')
  const items = [purchaseInput(), purchaseInput({ org_id: a.orgId }), purchaseInput({ org_id: b.orgId })]
  assertProblem(t, await postBatch(ctx, a.auth, items), 403, 'forbidden')
  assertProblem(t, await postBatch(ctx, a.auth, items, { dryRun: true }), 403, 'forbidden')
  // Also when the request has other problems: another org is never a validation question.
  assertProblem(
    t,
    await postPurchase(ctx, a.auth, purchaseInput({ org_id: b.orgId, amount: '1.005' })),
    403,
    'forbidden',
  )
  // An org id that does not exist is "another org" for a reporter, too.
  assertProblem(
    t,
    await postPurchase(ctx, a.auth, purchaseInput({ org_id: '00000000-0000-4000-8000-000000000000' })),
    403,
    'forbidden',
  )
  t.equal(await countRows(ctx, sql`true`), before, 'nothing stored')
})

t.test("a reporter reading another org's record → 404, like an unknown id", async (t) => {
  const { a, bRows } = await twoOrgs()
  const res = await getPurchase(ctx, a.auth, bRows[0]!.id)
  const body = assertProblem(t, res, 404, 'not_found')
  const unknown = (await getPurchase(ctx, a.auth, '00000000-0000-4000-8000-000000000000')).json()
  t.same(body, unknown, 'the same answer as for an id that does not exist')
  t.notMatch(res.body, bRows[0]!.id, 'the id is not echoed')
})

t.test("a reporter voiding another org's record → 404 like an unknown id, record untouched", async (t) => {
  const { a, bRows } = await twoOrgs()
  const target = bRows[0]!
  const res = await postVoid(ctx, a.auth, target.id)
  const body = assertProblem(t, res, 404, 'not_found')
  const unknown = (await postVoid(ctx, a.auth, '00000000-0000-4000-8000-000000000000')).json()
  t.same(body, unknown, 'the same answer as for an id that does not exist: the void reveals nothing')
  const after = (await getPurchase(ctx, admin, target.id)).json() as Purchase
  t.same(after, target, 'unchanged')
})

t.test('a reporter listing: own org only; naming another org → 403', async (t) => {
  const { a, b, aRows, bRows } = await twoOrgs()
  assertProblem(t, await listPurchases(ctx, a.auth, { org_id: b.orgId }), 403, 'forbidden')
  assertProblem(
    t,
    await listPurchases(ctx, a.auth, { org_id: '00000000-0000-4000-8000-000000000000' }),
    403,
    'forbidden',
  )
  const own = await listAll(ctx, a.auth, { status: 'all', limit: 1 })
  t.same(
    own.map((p) => p.id).sort(),
    aRows.map((p) => p.id).sort(),
    'no filter: exactly its own rows (paged)',
  )
  const ownExplicit = await listAll(ctx, a.auth, { org_id: a.orgId })
  t.same(ownExplicit.map((p) => p.id).sort(), aRows.map((p) => p.id).sort(), 'its own org_id is fine')
  // Filters that match another org's rows find nothing.
  t.same(await listAll(ctx, a.auth, { voucher_no: bRows[0]!.voucher_no! }), [])
  t.same(await listAll(ctx, a.auth, { channel: 'enterprise' }), [], 'b has the enterprise row, a does not')
  // A cursor from the reporter's walk cannot be replayed by another reporter to see its rows.
  const page = (await listPurchases(ctx, a.auth, { limit: 1 })).json() as { next_cursor: string }
  const replay = await listPurchases(ctx, b.auth, { limit: 1, cursor: page.next_cursor })
  t.equal(replay.statusCode, 400, 'another org’s cursor is refused')
})

t.test('admin sees all orgs', async (t) => {
  const { a, b, aRows, bRows } = await twoOrgs()
  const all = await listAll(ctx, admin, { limit: 500 })
  for (const p of [...aRows, ...bRows])
    t.ok(
      all.some((x) => x.id === p.id),
      `admin lists ${p.id}`,
    )
  t.same(
    (await listAll(ctx, admin, { org_id: b.orgId })).map((p) => p.id).sort(),
    bRows.map((p) => p.id).sort(),
  )
  for (const p of [...aRows, ...bRows]) t.equal((await getPurchase(ctx, admin, p.id)).statusCode, 200)
  // Admin may void in any org.
  t.equal((await postVoid(ctx, admin, aRows[0]!.id)).statusCode, 200)
  t.equal(a.orgId === b.orgId, false)
})

t.test('created_by is the key that wrote, whatever the body says', async (t) => {
  const a = await createOrgWithReporter(ctx)
  const res = await postPurchase(ctx, a.auth, purchaseInput({ created_by: a.keyId }))
  assertProblem(t, res, 400, 'validation_failed')
  const ok = (await postPurchase(ctx, a.auth, purchaseInput())).json() as Purchase
  t.equal(ok.created_by, a.keyId)
})
