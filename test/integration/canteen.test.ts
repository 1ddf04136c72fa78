import t from 'tap'
import { createPurchase, getOk, putTargets, voidPurchase } from '../api.js'
import { createKey, createOrgWithReporter } from '../factories.js'
import { buildTestApp, FIXED_NOW } from '../helper.js'

interface Unit {
  org_id: string
  org_name: string
  canteen_total: string | null
  reserved: string | null
  purchased: string
  share: number | null
  met: boolean | null
}

t.test('canteen budgets', async (t) => {
  const ctx = await buildTestApp(t, { now: FIXED_NOW })
  const { app, adminAuth } = ctx
  const finance = (await createKey(ctx, 'finance')).auth
  const a = await createOrgWithReporter(ctx, 'agency')
  const b = await createOrgWithReporter(ctx, 'public_institution')
  const c = await createOrgWithReporter(ctx, 'soe') // buys for its canteen, declares nothing
  const d = await createOrgWithReporter(ctx, 'agency') // neither declares nor buys: not listed
  const names = new Map<string, string>()
  for (const o of [a, b, c, d])
    names.set(o.orgId, (await getOk<{ name: string }>(ctx, `/v1/orgs/${o.orgId}`)).name)

  const put = (year: number, orgId: string, auth: { authorization: string }, payload: object) =>
    app.inject({ method: 'PUT', url: `/v1/canteen-budgets/${year}/${orgId}`, headers: auth, payload })

  t.test('admin declares for any org; the answer carries the unit’s figures', async (t) => {
    const res = await put(2024, a.orgId, adminAuth, { canteen_total: '820000.00' })
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json(), {
      year: 2024,
      org_id: a.orgId,
      org_name: names.get(a.orgId),
      canteen_total: '820000.00',
      reserved: '82000.00', // 820 000.00 × 0.10
      purchased: '0.00',
      share: 0,
      met: false,
    })
  })

  t.test('a reporter declares for its own org only', async (t) => {
    const own = await put(2024, b.orgId, b.auth, { canteen_total: '123456.78' })
    t.equal(own.statusCode, 200, own.body)
    t.equal(own.json().reserved, '12345.68', '12 345.678 rounded up to the fen')

    const other = await put(2024, a.orgId, b.auth, { canteen_total: '1.00' })
    t.equal(other.statusCode, 403)
    t.equal(other.json().code, 'forbidden')
    const unknown = await put(2024, '00000000-0000-4000-8000-000000000000', b.auth, { canteen_total: '1.00' })
    t.equal(unknown.statusCode, 403, 'a reporter learns nothing about other ids')
    const fin = await put(2024, a.orgId, finance, { canteen_total: '1.00' })
    t.equal(fin.statusCode, 403, 'finance has no writes')
    const anon = await app.inject({
      method: 'PUT',
      url: `/v1/canteen-budgets/2024/${a.orgId}`,
      payload: { canteen_total: '1.00' },
    })
    t.equal(anon.statusCode, 401)
  })

  t.test('an unknown org is 404 for the admin', async (t) => {
    const res = await put(2024, '00000000-0000-4000-8000-000000000000', adminAuth, { canteen_total: '1.00' })
    t.equal(res.statusCode, 404)
    t.equal(res.json().code, 'not_found')
  })

  t.test('invalid input is 400', async (t) => {
    const cases: [string, string, object, string][] = [
      ['number', `/v1/canteen-budgets/2024/${a.orgId}`, { canteen_total: 820000 }, '/canteen_total'],
      ['zero', `/v1/canteen-budgets/2024/${a.orgId}`, { canteen_total: '0.00' }, '/canteen_total'],
      ['three decimals', `/v1/canteen-budgets/2024/${a.orgId}`, { canteen_total: '1.005' }, '/canteen_total'],
      ['missing', `/v1/canteen-budgets/2024/${a.orgId}`, {}, '/canteen_total'],
      [
        'unknown field',
        `/v1/canteen-budgets/2024/${a.orgId}`,
        { canteen_total: '1.00', ratio: '0.2' },
        '/ratio',
      ],
      ['bad org id', '/v1/canteen-budgets/2024/not-a-uuid', { canteen_total: '1.00' }, '/params/org_id'],
      ['bad year', `/v1/canteen-budgets/19999/${a.orgId}`, { canteen_total: '1.00' }, '/params/year'],
    ]
    for (const [name, url, payload, path] of cases) {
      const res = await app.inject({ method: 'PUT', url, headers: adminAuth, payload })
      t.equal(res.statusCode, 400, name)
      t.ok(
        res.json().errors.some((e: { path: string }) => e.path === path),
        `${name}: ${path} in ${res.body}`,
      )
    }
  })

  t.test('the list: declared units and undeclared buyers, with purchased, share and met', async (t) => {
    await createPurchase(ctx, adminAuth, {
      channel: 'canteen',
      amount: '30000.00',
      occurred_on: '2024-03-10',
      org_id: a.orgId,
    })
    await createPurchase(ctx, a.auth, { channel: 'canteen', amount: '20000.00', occurred_on: '2024-11-30' })
    const voided = await createPurchase(ctx, a.auth, {
      channel: 'canteen',
      amount: '77777.00',
      occurred_on: '2024-04-01',
    })
    await voidPurchase(ctx, a.auth, voided.id)
    await createPurchase(ctx, a.auth, { channel: 'wholesale', amount: '99999.00', occurred_on: '2024-04-01' })
    await createPurchase(ctx, a.auth, { channel: 'canteen', amount: '88888.00', occurred_on: '2023-12-31' })
    await createPurchase(ctx, b.auth, { channel: 'canteen', amount: '20000.00', occurred_on: '2024-05-01' })
    await createPurchase(ctx, c.auth, { channel: 'canteen', amount: '5000.00', occurred_on: '2024-06-01' })
    await createPurchase(ctx, d.auth, { channel: 'enterprise', amount: '5000.00', occurred_on: '2024-06-01' })

    const expected: Unit[] = [
      {
        org_id: a.orgId,
        org_name: names.get(a.orgId)!,
        canteen_total: '820000.00',
        reserved: '82000.00',
        purchased: '50000.00', // 30 000 + 20 000; the voided, the wholesale and the 2023 records do not count
        share: 0.061, // 50 000 / 820 000 = 0.060975… → 0.0610
        met: false,
      },
      {
        org_id: b.orgId,
        org_name: names.get(b.orgId)!,
        canteen_total: '123456.78',
        reserved: '12345.68',
        purchased: '20000.00',
        share: 0.162, // 20 000 / 123 456.78 = 0.1620000… → 0.1620
        met: true,
      },
      {
        org_id: c.orgId,
        org_name: names.get(c.orgId)!,
        canteen_total: null,
        reserved: null,
        purchased: '5000.00',
        share: null,
        met: null,
      },
    ].sort((x, y) => (x.org_name < y.org_name ? -1 : 1))

    for (const auth of [adminAuth, finance]) {
      const list = await getOk<{ year: number; items: Unit[] }>(ctx, '/v1/canteen-budgets/2024', auth)
      t.same(list, { year: 2024, items: expected })
    }
    const mine = await getOk<{ items: Unit[] }>(ctx, '/v1/canteen-budgets/2024', c.auth)
    t.same(
      mine.items,
      expected.filter((u) => u.org_id === c.orgId),
      'a reporter sees only its own row',
    )
    const dOwn = await getOk<{ items: Unit[] }>(ctx, '/v1/canteen-budgets/2024', d.auth)
    t.same(dOwn.items, [], 'no declaration and no canteen purchases: not listed')

    const y2023 = await getOk<{ items: Unit[] }>(ctx, '/v1/canteen-budgets/2023')
    t.same(y2023.items, [
      {
        org_id: a.orgId,
        org_name: names.get(a.orgId)!,
        canteen_total: null,
        reserved: null,
        purchased: '88888.00',
        share: null,
        met: null,
      },
    ])
  })

  t.test('a new declaration replaces the old one and is audited', async (t) => {
    const res = await put(2024, a.orgId, a.auth, { canteen_total: '400000.00' })
    t.equal(res.statusCode, 200)
    t.match(res.json(), {
      canteen_total: '400000.00',
      reserved: '40000.00',
      purchased: '50000.00',
      met: true,
    })
    const audit = await getOk<{ items: { actor_key_id: string; before: unknown; after: unknown }[] }>(
      ctx,
      `/v1/audit?action=canteen_budget.set&entity_id=2024/${a.orgId}`,
      finance,
    )
    t.equal(audit.items.length, 2)
    t.equal(audit.items[0]!.actor_key_id, a.keyId)
    t.same(audit.items[0]!.before, { year: 2024, org_id: a.orgId, canteen_total: '820000.00' })
    t.same(audit.items[0]!.after, { year: 2024, org_id: a.orgId, canteen_total: '400000.00' })
    t.same(audit.items[1]!.before, null)
  })

  t.test('a year without a canteen target: reserved and met are null', async (t) => {
    const res = await put(2031, a.orgId, adminAuth, { canteen_total: '1000.00' })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { canteen_total: '1000.00', reserved: null, purchased: '0.00', share: 0, met: null })
    await putTargets(ctx, 2032, [{ channel: 'canteen', kind: 'share', value: '0.15', scope: 'per_unit' }])
    const r2032 = await put(2032, a.orgId, adminAuth, { canteen_total: '333.33' })
    t.equal(r2032.json().reserved, '50.00', '333.33 × 0.15 = 49.9995 → 50.00')
  })
})
