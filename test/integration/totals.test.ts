import t from 'tap'
import { createEach, createPurchase, getOk, putBudget, putTargets, voidPurchase } from '../api.js'
import { createKey, createOrgWithReporter } from '../factories.js'
import { buildTestApp, FIXED_NOW } from '../helper.js'

type Row = { key: string; label: string; total: string; count: number }
type Channel = Record<string, unknown> & { channel: string; regions?: Record<string, unknown>[] }
type Totals = { year: number; as_of: string; computed_at: string; channels: Channel[]; grand_total: string }

const REGION_NAMES: [string, string][] = [
  ['530502', '隆阳区'],
  ['530521', '施甸县'],
  ['530523', '龙陵县'],
  ['530524', '昌宁县'],
  ['530623', '盐津县'],
  ['530626', '绥江县'],
  ['653124', '泽普县'],
]

t.test('totals and breakdowns, with hand-worked figures', async (t) => {
  const ctx = await buildTestApp(t, { now: FIXED_NOW }) // today = 2026-03-15 in Asia/Shanghai
  const { app, adminAuth } = ctx
  const finance = (await createKey(ctx, 'finance')).auth
  const w = await createOrgWithReporter(ctx, 'market') // wholesale buyer
  const u = await createOrgWithReporter(ctx, 'trade_union') // union welfare, over target
  const m = await createOrgWithReporter(ctx, 'market') // market sales
  const a = await createOrgWithReporter(ctx, 'agency') // canteen, declared 820 000.00
  const b = await createOrgWithReporter(ctx, 'agency') // canteen, declared 123 456.78
  const c = await createOrgWithReporter(ctx, 'agency') // canteen purchases, no declaration

  // 2024 (366 days), seeded targets. Up to 2024-06-30 (182 days elapsed):
  const records = await createEach(ctx, [
    [w, 'wholesale', '10000000.00', '2024-01-15'],
    [w, 'wholesale', '11250000.00', '2024-03-31'],
    [w, 'wholesale', '10000000.00', '2024-06-10'],
    [w, 'wholesale', '1000000.00', '2024-06-20'], // voided below
    [u, 'union_welfare', '6000000.00', '2024-02-01'],
    [u, 'union_welfare', '6000000.00', '2024-05-20'],
    [m, 'market_sales', '3000000.00', '2024-04-15'],
    [m, 'market_sales', '12000000.00', '2024-06-30', '653124'],
    [a, 'canteen', '30000.00', '2024-03-10'],
    [a, 'canteen', '20000.00', '2024-06-25'],
    [b, 'canteen', '20000.00', '2024-05-01'],
    [c, 'canteen', '5000.00', '2024-06-01'],
    // after 2024-06-30:
    [w, 'wholesale', '5000000.00', '2024-07-01'],
    [a, 'canteen', '40000.00', '2024-07-05'],
  ])
  await voidPurchase(ctx, w.auth, records[3]!.id)
  await putBudget(ctx, 2024, a.orgId, '820000.00') // reserved 82 000.00
  await putBudget(ctx, 2024, b.orgId, '123456.78') // reserved 12 345.68 (rounded up)

  const totals = (query: string, auth = finance) => getOk<Totals>(ctx, `/v1/totals?${query}`, auth)
  const channel = (res: Totals, name: string) => res.channels.find((ch) => ch.channel === name)!

  t.test('2024 as of 30 June: 182 of 366 days', async (t) => {
    const res = await totals('year=2024&as_of=2024-06-30')
    t.equal(res.year, 2024)
    t.equal(res.as_of, '2024-06-30')
    t.equal(res.computed_at, '2026-03-15T02:00:00.000Z')
    t.same(
      res.channels.map((ch) => ch.channel),
      ['wholesale', 'union_welfare', 'enterprise', 'canteen', 'market_sales'],
    )
    t.same(channel(res, 'wholesale'), {
      channel: 'wholesale',
      total: '31250000.00', // 10 000 000 + 11 250 000 + 10 000 000; the voided record and 1 July do not count
      count: 3,
      target: '50000000.00',
      progress: 0.625,
      remaining: '18750000.00',
      expected_by_now: '24863387.98', // 50 000 000.00 × 182 / 366 = 24 863 387.978…
      on_track: true,
      projected_year_end: '62843406.59', // 31 250 000.00 × 366 / 182 = 62 843 406.593…
    })
    t.same(channel(res, 'union_welfare'), {
      channel: 'union_welfare',
      total: '12000000.00',
      count: 2,
      target: '10000000.00',
      progress: 1.2, // over-achieved
      remaining: '0.00',
      expected_by_now: '4972677.60', // 10 000 000.00 × 182 / 366 = 4 972 677.595…
      on_track: true,
      projected_year_end: '24131868.13', // 12 000 000.00 × 366 / 182 = 24 131 868.131…
    })
    t.same(channel(res, 'enterprise'), {
      channel: 'enterprise',
      total: '0.00',
      count: 0,
      target: '40000000.00',
      progress: 0,
      remaining: '40000000.00',
      expected_by_now: '19890710.38', // 40 000 000.00 × 182 / 366 = 19 890 710.382…
      on_track: false,
      projected_year_end: '0.00',
    })
    t.same(channel(res, 'canteen'), {
      channel: 'canteen',
      total: '75000.00', // 30 000 + 20 000 (A) + 20 000 (B) + 5 000 (C, undeclared); A's 5 July not yet
      count: 4,
      target: '94345.68', // = reserved
      progress: 0.7949, // 75 000.00 / 94 345.68 = 0.794948…
      remaining: '19345.68',
      expected_by_now: '46915.06', // 94 345.68 × 182 / 366 = 46 915.059…
      on_track: true,
      projected_year_end: '150824.18', // 75 000.00 × 366 / 182 = 150 824.175…
      target_share: '0.10',
      canteen_total: '943456.78', // 820 000.00 + 123 456.78
      reserved: '94345.68', // 82 000.00 + 12 345.68
      share: 0.0795, // 75 000.00 / 943 456.78 = 0.079494…
      units: 2,
      units_met: 1, // B: 20 000.00 ≥ 12 345.68; A: 50 000.00 < 82 000.00
      units_without_budget: 1, // C
    })
    const market = channel(res, 'market_sales')
    t.match(market, {
      total: '15000000.00',
      count: 2,
      target: '70000000.00', // 10 000 000.00 per county × 7 counties
      progress: 0.2143, // 15 / 70 = 0.214285…
      remaining: '55000000.00',
      expected_by_now: '34808743.17', // 70 000 000.00 × 182 / 366 = 34 808 743.169…
      on_track: false,
      projected_year_end: '30164835.16', // 15 000 000.00 × 366 / 182 = 30 164 835.164…
    })
    const region = (code: string) => market.regions!.find((r) => r.region_code === code)
    t.same(
      market.regions!.map((r) => [r.region_code, r.name]),
      REGION_NAMES,
      'every registered county, by code',
    )
    t.same(region('530502'), {
      region_code: '530502',
      name: '隆阳区',
      total: '3000000.00',
      count: 1,
      target: '10000000.00',
      progress: 0.3,
      remaining: '7000000.00',
      expected_by_now: '4972677.60',
      on_track: false,
      projected_year_end: '6032967.03', // 3 000 000.00 × 366 / 182 = 6 032 967.032…
    })
    t.same(region('530521'), {
      region_code: '530521',
      name: '施甸县',
      total: '0.00', // a county at 0
      count: 0,
      target: '10000000.00',
      progress: 0,
      remaining: '10000000.00',
      expected_by_now: '4972677.60',
      on_track: false,
      projected_year_end: '0.00',
    })
    t.match(region('653124'), {
      total: '12000000.00',
      progress: 1.2,
      remaining: '0.00',
      on_track: true,
      projected_year_end: '24131868.13',
    })
    t.equal(res.grand_total, '58325000.00')
  })

  t.test('a date inside a month: the partial month counts only records up to as_of', async (t) => {
    const res = await totals('year=2024&as_of=2024-06-09')
    t.match(channel(res, 'wholesale'), { total: '21250000.00', count: 2 }, '10 June is not counted')
    // canteen: A 10 March 30 000 + B 1 May 20 000 + C 1 June 5 000; A's 25 June not yet
    t.match(channel(res, 'canteen'), { total: '55000.00', count: 3, units_met: 1, units_without_budget: 1 })
    t.match(channel(res, 'market_sales'), { total: '3000000.00', count: 1 })
    t.equal(res.grand_total, '36305000.00') // 21 250 000 + 12 000 000 + 55 000 + 3 000 000
    const june10 = await totals('year=2024&as_of=2024-06-10')
    t.match(channel(june10, 'wholesale'), { total: '31250000.00', count: 3 }, 'as_of is inclusive')
    t.equal(june10.grand_total, '46305000.00')
  })

  t.test('a past year defaults to 31 December', async (t) => {
    const res = await totals('year=2024')
    t.equal(res.as_of, '2024-12-31')
    t.match(channel(res, 'wholesale'), {
      total: '36250000.00',
      count: 4,
      expected_by_now: '50000000.00',
      projected_year_end: '36250000.00',
      on_track: false,
    })
    t.match(channel(res, 'canteen'), { total: '115000.00', units_met: 2, units_without_budget: 1 })
    t.equal(res.grand_total, '63365000.00')
  })

  t.test('a common year (2025, 365 days) with only some targets', async (t) => {
    await putTargets(ctx, 2025, [
      { channel: 'wholesale', kind: 'amount', value: '50000000.00', scope: 'district' },
    ])
    await createPurchase(ctx, w.auth, {
      channel: 'wholesale',
      amount: '10000000.00',
      occurred_on: '2025-06-30',
    })
    await createPurchase(ctx, u.auth, {
      channel: 'union_welfare',
      amount: '123.45',
      occurred_on: '2025-01-02',
    })
    const res = await totals('year=2025&as_of=2025-06-30')
    t.same(channel(res, 'wholesale'), {
      channel: 'wholesale',
      total: '10000000.00',
      count: 1,
      target: '50000000.00',
      progress: 0.2,
      remaining: '40000000.00',
      expected_by_now: '24794520.55', // 50 000 000.00 × 181 / 365 = 24 794 520.547…
      on_track: false,
      projected_year_end: '20165745.86', // 10 000 000.00 × 365 / 181 = 20 165 745.856…
    })
    const nullPace = {
      target: null,
      progress: null,
      remaining: null,
      expected_by_now: null,
      on_track: null,
      projected_year_end: null,
    }
    t.same(channel(res, 'union_welfare'), {
      channel: 'union_welfare',
      total: '123.45',
      count: 1,
      ...nullPace,
    })
    t.match(channel(res, 'canteen'), {
      ...nullPace,
      target_share: null,
      reserved: null,
      canteen_total: '0.00',
      share: null,
      units: 0,
      units_met: null,
    })
    const market = channel(res, 'market_sales')
    t.match(market, nullPace)
    t.ok(market.regions!.every((r) => r.target === null && r.expected_by_now === null))
  })

  t.test('the current year defaults to today; a future year needs an as_of', async (t) => {
    await createPurchase(ctx, w.auth, { channel: 'wholesale', amount: '1000.00', occurred_on: '2026-03-15' })
    const res = await totals('year=2026')
    t.equal(res.as_of, '2026-03-15')
    t.match(channel(res, 'wholesale'), { total: '1000.00', count: 1, target: null })
    const earlier = await totals('year=2026&as_of=2026-03-14')
    t.match(channel(earlier, 'wholesale'), { total: '0.00', count: 0 })

    const future = await app.inject({ method: 'GET', url: '/v1/totals?year=2027', headers: finance })
    t.equal(future.statusCode, 400)
    t.equal(future.json().errors[0].path, '/querystring/year')
    const planned = await totals('year=2027&as_of=2027-01-31')
    t.equal(planned.grand_total, '0.00', 'an explicit as_of in a future year is allowed')
  })

  t.test('as_of must be a real date inside the year', async (t) => {
    for (const q of [
      'year=2024&as_of=2025-01-01',
      'year=2024&as_of=2023-12-31',
      'year=2024&as_of=2024-02-30',
      'year=2024&as_of=20240630',
      'year=abc',
      'as_of=2024-06-30',
      'year=2024&extra=1',
      'year=2024&org_id=nope',
    ]) {
      const res = await app.inject({ method: 'GET', url: `/v1/totals?${q}`, headers: finance })
      t.equal(res.statusCode, 400, q)
      t.equal(res.json().code, 'validation_failed', q)
    }
  })

  t.test('an org filter narrows every figure to that org', async (t) => {
    const res = await totals(`year=2024&as_of=2024-06-30&org_id=${w.orgId}`)
    t.match(channel(res, 'wholesale'), {
      total: '31250000.00',
      count: 3,
      target: '50000000.00',
      progress: 0.625,
    })
    t.match(channel(res, 'union_welfare'), { total: '0.00', count: 0 })
    t.match(channel(res, 'canteen'), { total: '0.00', units: 0, units_without_budget: 0, target: null })
    t.equal(res.grand_total, '31250000.00')

    const unitA = await totals(`year=2024&as_of=2024-06-30&org_id=${a.orgId}`)
    t.match(channel(unitA, 'canteen'), {
      total: '50000.00',
      count: 2,
      target: '82000.00',
      progress: 0.6098, // 50 000 / 82 000 = 0.609756…
      remaining: '32000.00',
      expected_by_now: '40775.96', // 82 000.00 × 182 / 366 = 40 775.956…
      canteen_total: '820000.00',
      reserved: '82000.00',
      share: 0.061,
      units: 1,
      units_met: 0,
      units_without_budget: 0,
    })
    const unitC = await totals(`year=2024&as_of=2024-06-30&org_id=${c.orgId}`)
    t.match(channel(unitC, 'canteen'), {
      total: '5000.00',
      canteen_total: '0.00',
      reserved: '0.00',
      target: null,
      share: null,
      progress: null,
      units: 0,
      units_met: 0,
      units_without_budget: 1,
    })

    const unknown = await app.inject({
      method: 'GET',
      url: '/v1/totals?year=2024&org_id=00000000-0000-4000-8000-000000000000',
      headers: finance,
    })
    t.equal(unknown.statusCode, 400)
    t.equal(unknown.json().errors[0].path, '/querystring/org_id')
  })

  t.test('every role reads totals; no key is 401', async (t) => {
    const asReporter = await totals(`year=2024&as_of=2024-06-30&org_id=${c.orgId}`, c.auth)
    t.equal(asReporter.grand_total, '5000.00', "a reporter reads its own org's totals")
    const district = await totals('year=2024&as_of=2024-06-30', c.auth)
    t.equal(district.grand_total, '58325000.00', "and the district's")
    const asAdmin = await totals('year=2024&as_of=2024-06-30', adminAuth)
    t.equal(asAdmin.grand_total, '58325000.00')
    t.equal((await app.inject({ method: 'GET', url: '/v1/totals?year=2024' })).statusCode, 401)
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/totals/breakdown?year=2024&by=org' })).statusCode,
      401,
    )
  })

  const breakdown = (query: string) =>
    getOk<{ year: number; by: string; as_of: string; rows: Row[] }>(
      ctx,
      `/v1/totals/breakdown?${query}`,
      finance,
    )

  t.test('breakdown by channel, month, region and org', async (t) => {
    const byChannel = await breakdown('year=2024&by=channel&as_of=2024-06-30')
    t.same(byChannel, {
      year: 2024,
      by: 'channel',
      as_of: '2024-06-30',
      rows: [
        { key: 'wholesale', label: '大宗批发', total: '31250000.00', count: 3 },
        { key: 'union_welfare', label: '工会福利', total: '12000000.00', count: 2 },
        { key: 'enterprise', label: '企业采购', total: '0.00', count: 0 },
        { key: 'canteen', label: '食堂预留', total: '75000.00', count: 4 },
        { key: 'market_sales', label: '市场销售', total: '15000000.00', count: 2 },
      ],
    })

    const byMonth = await breakdown('year=2024&by=month&as_of=2024-06-30')
    t.same(byMonth.rows, [
      { key: '2024-01', label: '2024年1月', total: '10000000.00', count: 1 },
      { key: '2024-02', label: '2024年2月', total: '6000000.00', count: 1 },
      { key: '2024-03', label: '2024年3月', total: '11280000.00', count: 2 },
      { key: '2024-04', label: '2024年4月', total: '3000000.00', count: 1 },
      { key: '2024-05', label: '2024年5月', total: '6020000.00', count: 2 },
      { key: '2024-06', label: '2024年6月', total: '22025000.00', count: 4 },
    ])
    const partial = await breakdown('year=2024&by=month&as_of=2024-06-15')
    t.same(partial.rows[5], { key: '2024-06', label: '2024年6月', total: '10005000.00', count: 2 })

    const byRegion = await breakdown('year=2024&by=region&as_of=2024-06-30')
    t.same(
      byRegion.rows,
      REGION_NAMES.map(([code, name]) => ({
        key: code,
        label: name,
        total: code === '530502' ? '46325000.00' : code === '653124' ? '12000000.00' : '0.00',
        count: code === '530502' ? 10 : code === '653124' ? 1 : 0,
      })),
    )
    const marketByRegion = await breakdown('year=2024&by=region&channel=market_sales&as_of=2024-06-30')
    t.same(
      marketByRegion.rows.filter((r) => r.count > 0).map((r) => [r.key, r.total]),
      [
        ['530502', '3000000.00'],
        ['653124', '12000000.00'],
      ],
    )

    const byOrg = await breakdown('year=2024&by=org&as_of=2024-06-30')
    const name = async (id: string) => (await getOk<{ name: string }>(ctx, `/v1/orgs/${id}`)).name
    t.same(byOrg.rows, [
      { key: w.orgId, label: await name(w.orgId), total: '31250000.00', count: 3 },
      { key: m.orgId, label: await name(m.orgId), total: '15000000.00', count: 2 },
      { key: u.orgId, label: await name(u.orgId), total: '12000000.00', count: 2 },
      { key: a.orgId, label: await name(a.orgId), total: '50000.00', count: 2 },
      { key: b.orgId, label: await name(b.orgId), total: '20000.00', count: 1 },
      { key: c.orgId, label: await name(c.orgId), total: '5000.00', count: 1 },
    ])

    const canteenOnly = await breakdown('year=2024&by=channel&channel=canteen&as_of=2024-06-30')
    t.same(canteenOnly.rows, [{ key: 'canteen', label: '食堂预留', total: '75000.00', count: 4 }])
    const oneOrg = await breakdown(`year=2024&by=month&org_id=${a.orgId}`)
    t.same(
      oneOrg.rows.filter((r) => r.count > 0).map((r) => [r.key, r.total]),
      [
        ['2024-03', '30000.00'],
        ['2024-06', '20000.00'],
        ['2024-07', '40000.00'],
      ],
    )
    t.equal(oneOrg.rows.length, 12, 'default as_of 31 December: twelve months')

    for (const q of ['year=2024', 'year=2024&by=week', 'year=2024&by=org&channel=retail']) {
      const res = await app.inject({ method: 'GET', url: `/v1/totals/breakdown?${q}`, headers: finance })
      t.equal(res.statusCode, 400, q)
    }
  })
})
