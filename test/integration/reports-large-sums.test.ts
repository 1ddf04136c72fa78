/**
 * The monthly report in every format sums amounts beyond what one record may hold (issue 13): three
 * records of 9 999 999 999.99 make a month and a year to date of 29 999 999 999.97 in one channel.
 */
import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'
import t from 'tap'
import { createPurchase, getOk } from '../api.js'
import { createKey, createOrg } from '../factories.js'
import { buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const orgId = await createOrg(ctx)
const finance = (await createKey(ctx, 'finance')).auth
const MAX = '9999999999.99'
for (let i = 0; i < 3; i++) {
  await createPurchase(ctx, ctx.adminAuth, { org_id: orgId, amount: MAX, occurred_on: '2025-06-10' })
}
const SUM = '29999999999.97'
const url = (format: string) => `/v1/reports/monthly?year=2025&month=6${format}`

t.test('JSON: the exact sums', async (t) => {
  const report = await getOk<{ channels: { channel: string; month_amount: string; ytd_amount: string }[] }>(
    ctx,
    url(''),
    finance,
  )
  const wholesale = report.channels.find((c) => c.channel === 'wholesale')!
  t.equal(wholesale.month_amount, SUM)
  t.equal(wholesale.ytd_amount, SUM)
})

t.test('CSV: 200 with the exact sums, and the total row', async (t) => {
  const res = await ctx.app.inject({ url: url('&format=csv'), headers: finance })
  t.equal(res.statusCode, 200, res.body)
  const rows: string[][] = parse(res.rawPayload, {
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
  })
  const wholesale = rows.find((r) => r[0] === 'wholesale')!
  t.equal(wholesale[2], SUM, 'month')
  t.equal(wholesale[4], SUM, 'year to date')
  const total = rows.find((r) => r[0] === '合计 Total')!
  t.equal(total[2], SUM)
})

t.test('XLSX: 200, the sums as numbers to the fen', async (t) => {
  const res = await ctx.app.inject({ url: url('&format=xlsx'), headers: finance })
  // Not the body as the message: a workbook is binary, and NUL bytes make the log unreadable to grep.
  t.equal(res.statusCode, 200, res.statusCode === 200 ? 'the workbook' : res.body)
  const wb = new ExcelJS.Workbook()
  await wb.xlsx.load(res.rawPayload as unknown as ArrayBuffer)
  const sheet = wb.getWorksheet('分渠道')!
  let found: unknown[] | undefined
  sheet.eachRow((row) => {
    const values = (row.values as unknown[]).slice(1)
    if (values[0] === 'wholesale') found = values
  })
  t.equal(Number(found?.[2]).toFixed(2), SUM, 'month')
  t.equal(Number(found?.[4]).toFixed(2), SUM, 'year to date')
})
