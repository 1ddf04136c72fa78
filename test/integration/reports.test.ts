import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'
import t from 'tap'
import { createEach, getOk, putBudget, voidPurchase } from '../api.js'
import { createKey, createOrgWithReporter } from '../factories.js'
import { buildTestApp, FIXED_NOW } from '../helper.js'

const CHANNEL_ROWS = [
  // channel, label, month_amount, month_count, ytd_amount, ytd_count, target, progress
  ['wholesale', '大宗批发', '3500000.75', 2, '13500000.75', 3, '50000000.00', 0.27],
  ['union_welfare', '工会福利', '0.00', 0, '0.00', 0, '10000000.00', 0],
  ['enterprise', '企业采购', '40000000.00', 1, '40000000.00', 1, '40000000.00', 1],
  // canteen target = reserved of the declared units: 82 000.00 + 10 000.00; 61 000 / 92 000 = 0.66304…
  ['canteen', '食堂预留', '51000.00', 2, '61000.00', 3, '92000.00', 0.663],
  // 11 234 567.90 / 70 000 000.00 = 0.160493…
  ['market_sales', '市场销售', '1234567.89', 1, '11234567.90', 2, '70000000.00', 0.1605],
] as const
const TOTAL_ROW = ['44785568.64', 6, '64795568.65', 9] as const

const REGION_ROWS = [
  ['530502', '隆阳区', '1234567.89', '1234567.89', '10000000.00', 0.1235],
  ['530521', '施甸县', '0.00', '0.00', '10000000.00', 0],
  ['530523', '龙陵县', '0.00', '0.00', '10000000.00', 0],
  ['530524', '昌宁县', '0.00', '0.00', '10000000.00', 0],
  ['530623', '盐津县', '0.00', '0.00', '10000000.00', 0],
  ['530626', '绥江县', '0.00', '0.00', '10000000.00', 0],
  ['653124', '泽普县', '0.00', '10000000.01', '10000000.00', 1], // 1.000000001 → 1.0000
] as const

t.test('monthly report', async (t) => {
  const ctx = await buildTestApp(t, { now: FIXED_NOW })
  const { app, adminAuth } = ctx
  const finance = (await createKey(ctx, 'finance')).auth
  const w = await createOrgWithReporter(ctx, 'market')
  const m = await createOrgWithReporter(ctx, 'market')
  const a = await createOrgWithReporter(ctx, 'agency')
  const b = await createOrgWithReporter(ctx, 'agency')
  const c = await createOrgWithReporter(ctx, 'agency')
  // A name that needs CSV quoting and would be a formula in Excel.
  const aName = '=区机管局, "一号"食堂'
  const renamed = await app.inject({
    method: 'PATCH',
    url: `/v1/orgs/${a.orgId}`,
    headers: adminAuth,
    payload: { name: aName },
  })
  t.equal(renamed.statusCode, 200)

  const records = await createEach(ctx, [
    [w, 'wholesale', '10000000.00', '2024-01-15'],
    [w, 'wholesale', '2500000.50', '2024-05-10'],
    [w, 'wholesale', '1000000.25', '2024-05-31'],
    [w, 'wholesale', '777.77', '2024-06-01'],
    [w, 'wholesale', '999.99', '2024-05-11'], // voided below
    [w, 'enterprise', '40000000.00', '2024-05-05'],
    [m, 'market_sales', '1234567.89', '2024-05-20'],
    [m, 'market_sales', '10000000.01', '2024-03-03', '653124'],
    [a, 'canteen', '50000.00', '2024-05-15'],
    [b, 'canteen', '10000.00', '2024-02-02'],
    [c, 'canteen', '1000.00', '2024-05-06'],
  ])
  await voidPurchase(ctx, adminAuth, records[4]!.id)
  await putBudget(ctx, 2024, a.orgId, '820000.00') // reserved 82 000.00, bought 50 000.00 → below
  await putBudget(ctx, 2024, b.orgId, '100000.00') // reserved 10 000.00, bought 10 000.00 → met

  const expectedJson = {
    year: 2024,
    month: 5,
    channels: CHANNEL_ROWS.map(([channel, , ma, mc, ya, yc, target, progress]) => ({
      channel,
      month_amount: ma,
      month_count: mc,
      ytd_amount: ya,
      ytd_count: yc,
      target,
      progress,
    })),
    regions: REGION_ROWS.map(([region_code, name, ma, ya, target, progress]) => ({
      region_code,
      name,
      month_amount: ma,
      ytd_amount: ya,
      target,
      progress,
    })),
    canteen_units_below: [{ org_id: a.orgId, org_name: aName, reserved: '82000.00', purchased: '50000.00' }],
  }

  t.test('JSON (the default), readable by every role', async (t) => {
    // A reporter's canteen list holds its own unit only (test/integration/visibility.test.ts).
    const asReporter = { ...expectedJson, canteen_units_below: [] }
    for (const [auth, expected] of [
      [finance, expectedJson],
      [adminAuth, expectedJson],
      [c.auth, asReporter],
    ] as const) {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/reports/monthly?year=2024&month=5',
        headers: auth,
      })
      t.equal(res.statusCode, 200)
      t.match(res.headers['content-type'], /^application\/json/)
      t.same(res.json(), expected)
    }
    const explicit = await getOk(ctx, '/v1/reports/monthly?year=2024&month=5&format=json')
    t.same(explicit, expectedJson)
  })

  t.test('a month with nothing recorded yet still lists every channel and county', async (t) => {
    const dec = await getOk<typeof expectedJson>(ctx, '/v1/reports/monthly?year=2024&month=12')
    t.same(
      dec.channels.map((ch) => [ch.channel, ch.month_amount, ch.month_count]),
      CHANNEL_ROWS.map(([ch]) => [ch, '0.00', 0]),
    )
    t.equal(dec.channels[0]!.ytd_amount, '13500778.52', 'June’s 777.77 is in the year to date')
    t.equal(dec.regions.length, 7)
    const jan2023 = await getOk<typeof expectedJson>(ctx, '/v1/reports/monthly?year=2023&month=1')
    t.ok(
      jan2023.channels.every((ch) => ch.target === null && ch.progress === null),
      'no targets for 2023',
    )
  })

  t.test('CSV: BOM, Chinese and English headers, the same figures', async (t) => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/reports/monthly?year=2024&month=5&format=csv',
      headers: finance,
    })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'text/csv; charset=utf-8')
    t.equal(res.headers['content-disposition'], 'attachment; filename="monthly-report-2024-05.csv"')
    t.same([...res.rawPayload.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM')
    t.match(res.rawPayload.toString('utf8'), /\r\n/, 'CRLF line ends')

    const rows: string[][] = parse(res.rawPayload, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
    })
    const at = (first: string) => rows.findIndex((r) => r[0] === first)
    t.match(rows[0]![0], /每月一报 2024年5月/)

    const ch = at('渠道代码 Channel code')
    t.same(rows[ch], [
      '渠道代码 Channel code',
      '渠道 Channel',
      '本月金额（元） Month amount (CNY)',
      '本月笔数 Month count',
      '年度累计金额（元） YTD amount (CNY)',
      '年度累计笔数 YTD count',
      '年度目标（元） Target (CNY)',
      '完成进度 Progress',
    ])
    t.same(
      rows.slice(ch + 1, ch + 6),
      CHANNEL_ROWS.map((r) => r.map(String)),
    )
    t.same(rows[ch + 6], ['合计 Total', '', ...TOTAL_ROW.map(String), '', ''])
    // The total row is the exact sum of the channel rows.
    const fen = (s: string) => BigInt(s.replace('.', ''))
    const sum = (i: number) => rows.slice(ch + 1, ch + 6).reduce((acc, r) => acc + fen(r[i]!), 0n)
    t.equal(sum(2), fen(TOTAL_ROW[0]))
    t.equal(sum(4), fen(TOTAL_ROW[2]))

    const rg = at('地区代码 Region code')
    t.same(
      rows.slice(rg + 1, rg + 8),
      REGION_ROWS.map((r) => r.map(String)),
    )
    const cu = at('单位编号 Org ID')
    t.same(
      rows.slice(cu + 1),
      [[a.orgId, `'${aName}`, '82000.00', '50000.00']],
      'formula-like text neutralised',
    )
  })

  t.test('XLSX: Chinese labels, numbers to the fen, the same figures', async (t) => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/reports/monthly?year=2024&month=5&format=xlsx',
      headers: finance,
    })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
    t.equal(res.headers['content-disposition'], 'attachment; filename="monthly-report-2024-05.xlsx"')

    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(res.rawPayload as unknown as ArrayBuffer)
    t.same(
      wb.worksheets.map((ws) => ws.name),
      ['分渠道', '市场销售分县', '食堂预留未达标单位'],
    )
    const values = (ws: ExcelJS.Worksheet, from: number) => {
      const out: unknown[][] = []
      ws.eachRow((row, n) => {
        if (n >= from) out.push((row.values as unknown[]).slice(1))
      })
      return out
    }
    const money = (v: unknown) => (typeof v === 'number' ? v.toFixed(2) : v)

    const channels = wb.getWorksheet('分渠道')!
    t.equal(channels.getCell('A1').value, '每月一报 2024年5月')
    t.same(values(channels, 2)[0], [
      '渠道代码',
      '渠道',
      '本月金额（元）',
      '本月笔数',
      '年度累计金额（元）',
      '年度累计笔数',
      '年度目标（元）',
      '完成进度',
    ])
    const data = values(channels, 3)
    t.same(
      data.slice(0, 5).map((r) => [r[0], r[1], money(r[2]), r[3], money(r[4]), r[5], money(r[6]), r[7]]),
      CHANNEL_ROWS.map((r) => [...r]),
    )
    t.same(
      [data[5]![0], money(data[5]![2]), data[5]![3], money(data[5]![4]), data[5]![5]],
      ['合计', ...TOTAL_ROW],
    )
    t.equal(typeof data[0]![2], 'number', 'money cells are numbers Excel can sum')
    t.equal(channels.getCell('C3').numFmt, '#,##0.00')
    t.equal(channels.getCell('H3').numFmt, '0.00%')

    const regions = wb.getWorksheet('市场销售分县')!
    t.same(values(regions, 2)[0], [
      '地区代码',
      '县区',
      '本月市场销售（元）',
      '年度累计市场销售（元）',
      '目标（元）',
      '完成进度',
    ])
    t.same(
      values(regions, 3).map((r) => [r[0], r[1], money(r[2]), money(r[3]), money(r[4]), r[5]]),
      REGION_ROWS.map((r) => [...r]),
    )
    const canteen = wb.getWorksheet('食堂预留未达标单位')!
    t.same(values(canteen, 2), [
      ['单位编号', '预算单位', '预留额（元）', '已采购（元）'],
      [a.orgId, aName, 82000, 50000],
    ])
  })

  t.test('invalid queries are 400', async (t) => {
    for (const q of [
      'year=2024',
      'month=5',
      'year=2024&month=0',
      'year=2024&month=13',
      'year=2024&month=5&format=pdf',
      'year=2024&month=5.5',
      'year=2024&month=5&x=1',
    ]) {
      const res = await app.inject({ method: 'GET', url: `/v1/reports/monthly?${q}`, headers: finance })
      t.equal(res.statusCode, 400, q)
      t.equal(res.json().code, 'validation_failed', q)
    }
    t.equal(
      (await app.inject({ method: 'GET', url: '/v1/reports/monthly?year=2024&month=5' })).statusCode,
      401,
    )
  })
})
