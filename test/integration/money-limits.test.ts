/**
 * Money at the edges (issue 13): every figure of every report, in every format, stays exact up to the
 * largest year the database can hold, and a write past that limit is a clean 400 that changes nothing.
 *
 * The largest year: every rollup cell (one per year, month, channel, county, org and shard) holds a bigint of
 * fen, so a cell tops out at 2^63 − 1 fen (≈ 92 233 720 368 547 758 yuan, about nine million records of the
 * largest amount). Writing nine million records per cell would take hours, so the test writes one record
 * per cell through the API and then raises each cell it touched to that maximum directly — the month rollup
 * and the year rollups by the same amount, so they agree as the triggers would have kept them. What the
 * reads see is then exactly what nine million records would have made.
 */
import { parse } from 'csv-parse/sync'
import { sql } from 'drizzle-orm'
import ExcelJS from 'exceljs'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { createPurchase, getOk, postBatch, postCsv, postPurchase, putBudget, putTargets } from '../api.js'
import { createKey, createOrg, csv, purchaseInput, yuan } from '../factories.js'
import { assertProblem, buildTestApp, countRows, FIXED_NOW } from '../helper.js'

const ctx = await buildTestApp(t, { now: FIXED_NOW })
const { app } = ctx
const finance = (await createKey(ctx, 'finance')).auth
const MAX_RECORD = '9999999999.99'
const CELL_MAX = 2n ** 63n - 1n
const YEAR = 2025

// Targets at their largest too, so ratios and pace run on the largest numerators and denominators.
await putTargets(ctx, YEAR, [
  { channel: 'wholesale', kind: 'amount', value: MAX_RECORD, scope: 'district' },
  { channel: 'union_welfare', kind: 'amount', value: MAX_RECORD, scope: 'district' },
  { channel: 'enterprise', kind: 'amount', value: '1.00', scope: 'district' },
  { channel: 'market_sales', kind: 'amount', value: MAX_RECORD, scope: 'per_region' },
  { channel: 'canteen', kind: 'share', value: '1.0000', scope: 'per_unit' },
])
const w = await createOrg(ctx, 'agency')
const c = await createOrg(ctx, 'agency')
await putBudget(ctx, YEAR, c, MAX_RECORD)
const cells: [orgId: string, channel: string, region: string][] = [
  [w, 'wholesale', '530502'],
  [w, 'union_welfare', '530502'],
  [w, 'enterprise', '530521'],
  [c, 'canteen', '530502'],
  [w, 'market_sales', '530502'],
  [w, 'market_sales', '653124'],
]
for (const [org_id, channel, region_code] of cells) {
  await createPurchase(ctx, ctx.adminAuth, {
    org_id,
    channel: channel as 'wholesale',
    region_code,
    amount: MAX_RECORD,
    occurred_on: '2025-06-10',
  })
}
// Each cell has one record in one shard; raise that shard's rows to the bigint maximum in every rollup.
const add = CELL_MAX - 999_999_999_999n
await ctx.database.db.execute(
  sql`update purchase_totals set total_fen = total_fen + ${add.toString()}::bigint where year = ${YEAR}`,
)
await ctx.database.db.execute(
  sql`update purchase_year_totals set total_fen = total_fen + ${add.toString()}::bigint where year = ${YEAR}`,
)
await ctx.database.db.execute(
  sql`update canteen_year_totals set total_fen = total_fen + ${add.toString()}::bigint where year = ${YEAR}`,
)
const [row] = await queryRows<{ n: string }>(
  ctx.database.db,
  sql`select count(*)::text as n from purchase_totals where year = ${YEAR} and total_fen = ${CELL_MAX.toString()}::bigint`,
)
t.equal(row?.n, String(cells.length), 'each cell is at the maximum')

const EXPECTED: Record<string, bigint> = {
  wholesale: CELL_MAX,
  union_welfare: CELL_MAX,
  enterprise: CELL_MAX,
  canteen: CELL_MAX,
  market_sales: 2n * CELL_MAX,
}
const GRAND = 6n * CELL_MAX // beyond 2^64: no 64-bit integer holds it
type Totals = {
  channels: { channel: string; total: string; projected_year_end: string | null }[]
  grand_total: string
}

t.test('totals: exact at the maximum, from the year rollups and from the month rollup', async (t) => {
  for (const query of [`year=${YEAR}`, `year=${YEAR}&as_of=2025-06-30`]) {
    const totals = await getOk<Totals>(ctx, `/v1/totals?${query}`, finance)
    for (const ch of totals.channels) t.equal(ch.total, yuan(EXPECTED[ch.channel]!), `${query} ${ch.channel}`)
    t.equal(totals.grand_total, yuan(GRAND), `${query} grand total`)
    const market = totals.channels.find((ch) => ch.channel === 'market_sales')!
    t.ok(market.projected_year_end && BigInt(market.projected_year_end.replace('.', '')) >= 2n * CELL_MAX)
  }
  const org = await getOk<Totals>(ctx, `/v1/totals?year=${YEAR}&org_id=${w}`, finance)
  t.equal(org.grand_total, yuan(5n * CELL_MAX), "one org's totals")
})

t.test('breakdowns: every view adds up to the grand total', async (t) => {
  for (const by of ['month', 'channel', 'region', 'org']) {
    const res = await getOk<{ rows: { total: string }[] }>(
      ctx,
      `/v1/totals/breakdown?year=${YEAR}&by=${by}`,
      finance,
    )
    const sum = res.rows.reduce((s, r) => s + BigInt(r.total.replace('.', '')), 0n)
    t.equal(yuan(sum), yuan(GRAND), `by=${by}`)
  }
})

t.test('canteen units: the purchased amount at the maximum', async (t) => {
  const res = await getOk<{ items: { org_id: string; purchased: string }[] }>(
    ctx,
    `/v1/canteen-budgets/${YEAR}`,
    finance,
  )
  t.equal(res.items.find((u) => u.org_id === c)?.purchased, yuan(CELL_MAX))
})

const reportUrl = (format: string) => `/v1/reports/monthly?year=${YEAR}&month=6&format=${format}`

t.test('monthly report JSON and CSV: the exact sums', async (t) => {
  const json = await getOk<{ channels: { channel: string; month_amount: string; ytd_amount: string }[] }>(
    ctx,
    reportUrl('json'),
    finance,
  )
  for (const ch of json.channels) {
    t.equal(ch.month_amount, yuan(EXPECTED[ch.channel]!), `month ${ch.channel}`)
    t.equal(ch.ytd_amount, yuan(EXPECTED[ch.channel]!), `ytd ${ch.channel}`)
  }
  const csv = await app.inject({ url: reportUrl('csv'), headers: finance })
  t.equal(csv.statusCode, 200)
  const rows: string[][] = parse(csv.rawPayload, {
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
  })
  t.equal(rows.find((r) => r[0] === '合计 Total')?.[4], yuan(GRAND), 'CSV total row, year to date')
})

t.test('monthly report XLSX: money beyond what Excel holds exactly is exact text', async (t) => {
  const res = await app.inject({ url: reportUrl('xlsx'), headers: finance })
  t.equal(res.statusCode, 200, res.statusCode === 200 ? 'the workbook' : res.body)
  const wb = new ExcelJS.Workbook()
  await wb.xlsx.load(res.rawPayload as unknown as ArrayBuffer)
  const values: unknown[][] = []
  wb.getWorksheet('分渠道')!.eachRow((row) => {
    values.push((row.values as unknown[]).slice(1))
  })
  t.equal(values.find((r) => r[0] === 'market_sales')?.[4], yuan(2n * CELL_MAX))
  t.equal(values.find((r) => String(r[0]).startsWith('合计'))?.[4], yuan(GRAND))
})

t.test('exports: the largest record amount, exact in CSV and XLSX', async (t) => {
  const csv = await app.inject({ url: `/v1/purchases/export?year=${YEAR}&format=csv`, headers: finance })
  const rows: string[][] = parse(csv.rawPayload, { bom: true })
  t.same(
    rows.slice(1).map((r) => r[rows[0]!.indexOf('amount')]),
    cells.map(() => MAX_RECORD),
  )
  const xlsx = await app.inject({ url: `/v1/purchases/export?year=${YEAR}&format=xlsx`, headers: finance })
  const wb = new ExcelJS.Workbook()
  await wb.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer)
  const amounts: string[] = []
  wb.worksheets[0]!.eachRow((row, i) => {
    if (i > 1) amounts.push(Number(row.getCell(3).value).toFixed(2))
  })
  t.same(
    amounts,
    cells.map(() => MAX_RECORD),
  )
})

t.test('a record past the maximum is a clean 400 that changes nothing', async (t) => {
  // Fill every shard of one cell, so wherever the next record lands it would overflow.
  await ctx.database.db.execute(
    sql`insert into purchase_totals (year, month, channel, region_code, org_id, shard, total_fen, count)
        select ${YEAR}, 6, 'wholesale', '530502', ${w}::uuid, s, ${CELL_MAX.toString()}::bigint, 1
          from generate_series(0, 7) s
        on conflict (year, month, channel, region_code, org_id, shard) do update set total_fen = excluded.total_fen`,
  )
  const before = await countRows(ctx)
  const totalsBefore = await getOk<Totals>(ctx, `/v1/totals?year=${YEAR}&as_of=2025-06-30`, finance)
  const body = purchaseInput({ org_id: w, channel: 'wholesale', region_code: '530502', amount: '0.01' })
  const res = await postPurchase(ctx, ctx.adminAuth, { ...body, occurred_on: '2025-06-11' })
  const problem = assertProblem(t, res, 400, 'validation_failed')
  t.match(problem.detail, /largest total the database can hold/)
  const batch = await postBatch(ctx, ctx.adminAuth, [
    { ...body, voucher_no: 'B-1', occurred_on: '2025-06-11' },
  ])
  assertProblem(t, batch, 400, 'validation_failed')
  const file = csv(
    'channel,amount,occurred_on,org_id,region_code,supplier',
    `wholesale,0.01,2025-06-12,${w},530502,某某公司`,
  )
  assertProblem(t, await postCsv(ctx, ctx.adminAuth, file), 400, 'validation_failed')
  t.equal(await countRows(ctx), before, 'no record stored')
  const totalsAfter = await getOk<Totals>(ctx, `/v1/totals?year=${YEAR}&as_of=2025-06-30`, finance)
  t.same(totalsAfter.channels, totalsBefore.channels, 'no figure changed')
})
