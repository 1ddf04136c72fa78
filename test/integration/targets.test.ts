import t from 'tap'
import { createKey, createOrgWithReporter } from '../factories.js'
import { buildTestApp, FIXED_NOW } from '../helper.js'

const SEEDED_2024 = [
  { channel: 'wholesale', kind: 'amount', value: '50000000.00', scope: 'district' },
  { channel: 'union_welfare', kind: 'amount', value: '10000000.00', scope: 'district' },
  { channel: 'enterprise', kind: 'amount', value: '40000000.00', scope: 'district' },
  { channel: 'canteen', kind: 'share', value: '0.10', scope: 'per_unit' },
  { channel: 'market_sales', kind: 'amount', value: '10000000.00', scope: 'per_region' },
]

t.test('targets', async (t) => {
  const ctx = await buildTestApp(t, { now: FIXED_NOW })
  const { app, adminAuth } = ctx
  const finance = (await createKey(ctx, 'finance')).auth
  const reporter = await createOrgWithReporter(ctx)

  t.test('2024 is seeded from the contract, readable by every role', async (t) => {
    for (const auth of [adminAuth, finance, reporter.auth]) {
      const res = await app.inject({ method: 'GET', url: '/v1/targets/2024', headers: auth })
      t.equal(res.statusCode, 200)
      t.same(res.json(), { year: 2024, targets: SEEDED_2024 })
    }
  })

  t.test('a year without targets answers 200 with an empty list', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/v1/targets/2031', headers: finance })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { year: 2031, targets: [] })
  })

  t.test('PUT replaces the whole set and is audited with before and after', async (t) => {
    const body = {
      targets: [
        { channel: 'market_sales', kind: 'amount', value: '12000000', scope: 'per_region' },
        { channel: 'canteen', kind: 'share', value: '0.15', scope: 'per_unit' },
        { channel: 'wholesale', kind: 'amount', value: '60000000.5', scope: 'district' },
      ],
    }
    const put = await app.inject({
      method: 'PUT',
      url: '/v1/targets/2025',
      headers: adminAuth,
      payload: body,
    })
    t.equal(put.statusCode, 200, put.body)
    const expected = {
      year: 2025,
      targets: [
        { channel: 'wholesale', kind: 'amount', value: '60000000.50', scope: 'district' },
        { channel: 'canteen', kind: 'share', value: '0.15', scope: 'per_unit' },
        { channel: 'market_sales', kind: 'amount', value: '12000000.00', scope: 'per_region' },
      ],
    }
    t.same(put.json(), expected, 'normalised: two decimals, fixed channel order')
    t.same((await app.inject({ method: 'GET', url: '/v1/targets/2025', headers: finance })).json(), expected)

    const second = await app.inject({
      method: 'PUT',
      url: '/v1/targets/2025',
      headers: adminAuth,
      payload: { targets: [{ channel: 'enterprise', kind: 'amount', value: '1.00', scope: 'district' }] },
    })
    t.equal(second.statusCode, 200)
    t.same(second.json(), {
      year: 2025,
      targets: [{ channel: 'enterprise', kind: 'amount', value: '1.00', scope: 'district' }],
    })

    const audit = await app.inject({
      method: 'GET',
      url: '/v1/audit?action=targets.replaced&entity_id=2025',
      headers: finance,
    })
    const items = audit.json().items as { before: unknown; after: unknown; entity: string }[]
    t.equal(items.length, 2)
    t.equal(items[0]!.entity, 'targets')
    t.same(items[0]!.before, expected, 'newest first: before = the first replacement')
    t.same(items[0]!.after, second.json())
    t.same(items[1]!.before, { year: 2025, targets: [] })

    const cleared = await app.inject({
      method: 'PUT',
      url: '/v1/targets/2025',
      headers: adminAuth,
      payload: { targets: [] },
    })
    t.same(cleared.json(), { year: 2025, targets: [] }, 'an empty list removes every target')
  })

  t.test('ratios keep up to four decimals', async (t) => {
    const res = await app.inject({
      method: 'PUT',
      url: '/v1/targets/2026',
      headers: adminAuth,
      payload: { targets: [{ channel: 'canteen', kind: 'share', value: '0.1234', scope: 'per_unit' }] },
    })
    t.equal(res.json().targets[0].value, '0.1234')
    const one = await app.inject({
      method: 'PUT',
      url: '/v1/targets/2026',
      headers: adminAuth,
      payload: { targets: [{ channel: 'canteen', kind: 'share', value: '1', scope: 'per_unit' }] },
    })
    t.equal(one.json().targets[0].value, '1.00')
  })

  t.test('invalid bodies are 400 with every problem located', async (t) => {
    const cases: [string, object, string[]][] = [
      [
        'channel twice',
        {
          targets: [
            { channel: 'wholesale', kind: 'amount', value: '1.00', scope: 'district' },
            { channel: 'wholesale', kind: 'amount', value: '2.00', scope: 'district' },
          ],
        },
        ['/targets/1/channel'],
      ],
      [
        'wrong kind and scope for the channel',
        {
          targets: [
            { channel: 'canteen', kind: 'amount', value: '0.10', scope: 'district' },
            { channel: 'market_sales', kind: 'amount', value: '1.00', scope: 'district' },
          ],
        },
        ['/targets/0/kind', '/targets/0/scope', '/targets/1/scope'],
      ],
      [
        'amount as a JSON number',
        { targets: [{ channel: 'wholesale', kind: 'amount', value: 50000000, scope: 'district' }] },
        ['/targets/0/value'],
      ],
      [
        'amount zero and with separators',
        {
          targets: [
            { channel: 'wholesale', kind: 'amount', value: '0', scope: 'district' },
            { channel: 'enterprise', kind: 'amount', value: '12,000.00', scope: 'district' },
          ],
        },
        ['/targets/0/value', '/targets/1/value'],
      ],
      [
        'ratio above 1, zero, too precise',
        { targets: [{ channel: 'canteen', kind: 'share', value: '1.5', scope: 'per_unit' }] },
        ['/targets/0/value'],
      ],
      [
        'ratio zero',
        { targets: [{ channel: 'canteen', kind: 'share', value: '0.00', scope: 'per_unit' }] },
        ['/targets/0/value'],
      ],
      [
        'ratio with five decimals',
        { targets: [{ channel: 'canteen', kind: 'share', value: '0.12345', scope: 'per_unit' }] },
        ['/targets/0/value'],
      ],
      [
        'unknown channel',
        { targets: [{ channel: 'retail', kind: 'amount', value: '1.00', scope: 'district' }] },
        ['/targets/0/channel'],
      ],
      [
        'unknown fields',
        { targets: [{ channel: 'wholesale', kind: 'amount', value: '1.00', scope: 'district', x: 1 }], y: 2 },
        ['/targets/0/x', '/y'],
      ],
      ['targets missing', {}, ['/targets']],
    ]
    for (const [name, payload, paths] of cases) {
      const res = await app.inject({ method: 'PUT', url: '/v1/targets/2027', headers: adminAuth, payload })
      t.equal(res.statusCode, 400, name)
      const body = res.json()
      t.equal(body.code, 'validation_failed', name)
      t.same(body.errors.map((e: { path: string }) => e.path).sort(), [...paths].sort(), name)
    }
    const still = await app.inject({ method: 'GET', url: '/v1/targets/2027', headers: adminAuth })
    t.same(still.json().targets, [], 'nothing stored by a rejected PUT')
  })

  t.test('bad year in the path is 400', async (t) => {
    for (const year of ['abc', '1999', '2101', '2024.5']) {
      const res = await app.inject({ method: 'GET', url: `/v1/targets/${year}`, headers: adminAuth })
      t.equal(res.statusCode, 400, year)
      t.equal(res.json().code, 'validation_failed')
    }
  })

  t.test('only admin may PUT; no key is 401', async (t) => {
    const payload = { targets: [] }
    for (const auth of [finance, reporter.auth]) {
      const res = await app.inject({ method: 'PUT', url: '/v1/targets/2024', headers: auth, payload })
      t.equal(res.statusCode, 403)
      t.equal(res.json().code, 'forbidden')
    }
    const anon = await app.inject({ method: 'GET', url: '/v1/targets/2024' })
    t.equal(anon.statusCode, 401)
    const after = await app.inject({ method: 'GET', url: '/v1/targets/2024', headers: adminAuth })
    t.equal(after.json().targets.length, 5, 'refused PUTs changed nothing')
  })

  t.test('concurrent replacements of one year never fail and leave one whole set', async (t) => {
    const bodies = Array.from({ length: 6 }, (_, i) => ({
      targets: [
        { channel: 'wholesale', kind: 'amount', value: `${i + 1}.00`, scope: 'district' },
        { channel: 'union_welfare', kind: 'amount', value: `${i + 1}.00`, scope: 'district' },
      ],
    }))
    const results = await Promise.all(
      bodies.map((payload) =>
        app.inject({ method: 'PUT', url: '/v1/targets/2028', headers: adminAuth, payload }),
      ),
    )
    t.same(
      results.map((r) => r.statusCode),
      bodies.map(() => 200),
    )
    const final = (await app.inject({ method: 'GET', url: '/v1/targets/2028', headers: adminAuth })).json()
    t.equal(final.targets.length, 2)
    t.equal(final.targets[0].value, final.targets[1].value, 'both rows come from the same replacement')
  })
})
