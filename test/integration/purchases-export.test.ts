/** GET /v1/purchases/export: streamed CSV (BOM, English header) and XLSX (Chinese titles), scoped and filtered. */
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'
import t, { type Test } from 'tap'
import { shanghaiToday } from '../../src/dates.js'
import { exportBatches } from '../../src/modules/purchases/export/purchases-export.repository.js'
import { createPurchases, listAll, postCsv, voidPurchase } from '../api.js'
import { bulkyCsv } from '../downloads.js'
import {
  createKey,
  createOrgWithReporter,
  csv,
  fixture,
  type Purchase,
  sumFen,
  sumsByChannel,
} from '../factories.js'
import { type Auth, assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const admin: Auth = ctx.adminAuth

const COLUMNS = [
  'id',
  'channel',
  'amount',
  'occurred_on',
  'org_id',
  'region_code',
  'supplier',
  'supplier_credit_code',
  'product',
  'voucher_no',
  'external_ref',
  'note',
  'year',
  'status',
  'created_at',
  'voided_at',
  'void_reason',
] as const
const TITLES = [
  '记录编号',
  '渠道',
  '金额（元）',
  '发生日期',
  '单位编号',
  '地区代码',
  '供应商',
  '统一社会信用代码',
  '产品',
  '凭证号',
  '外部编号',
  '备注',
  '年度',
  '状态',
  '创建时间',
  '作废时间',
  '作废原因',
]

const exportRes = (auth: Auth, query = '') =>
  ctx.app.inject({ url: `/v1/purchases/export${query}`, headers: auth })

/** The CSV's records as objects keyed by the header (null for empty cells, like the JSON API). */
function readCsv(t: Test, body: Buffer): Record<string, string | null>[] {
  t.same([...body.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM')
  const text = body.toString('utf8')
  t.equal(text.slice(1).split('\r\n')[0], COLUMNS.join(','), 'English header row')
  t.ok(text.endsWith('\r\n'), 'CRLF line ends')
  const rows = parse(body, { bom: true, columns: true }) as Record<string, string>[]
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === '' ? null : v])))
}

/** A purchase as the CSV shows it: every field text, null for absent. */
const asCsv = (p: Purchase) =>
  Object.fromEntries(COLUMNS.map((c) => [c, p[c] === null ? null : String(p[c as keyof Purchase])]))

// Two orgs with data: A from both Excel fixtures plus awkward text, B a little.
const a = await createOrgWithReporter(ctx)
const b = await createOrgWithReporter(ctx)
await postCsv(ctx, a.auth, fixture('purchases-excel-utf8-bom.csv'))
await postCsv(ctx, a.auth, fixture('purchases-excel-gbk.csv'), '?encoding=gbk')
const awkward = csv(
  'channel,amount,occurred_on,region_code,supplier,product,note,external_ref',
  `enterprise,"3,000.03",2023-12-31,530524,"=HYPERLINK(""http://x"")",+86 电话,@提醒,-7`,
)
await postCsv(ctx, a.auth, awkward)
await postCsv(
  ctx,
  b.auth,
  csv('channel,amount,occurred_on,region_code,supplier', 'wholesale,42,2024-04-04,530502,乙'),
)

t.test(
  'CSV: BOM, English header, every field as the JSON API shows it, only the reporter’s org',
  async (t) => {
    const res = await exportRes(a.auth)
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'text/csv; charset=utf-8')
    t.equal(
      res.headers['content-disposition'],
      `attachment; filename="purchases_all_${shanghaiToday(new Date()).replace(/-/g, '')}.csv"`,
    )
    const rows = readCsv(t, res.rawPayload)
    const api = await listAll(ctx, a.auth, 'status=active')
    t.equal(rows.length, 12)
    const unprotect = (v: string | null) => (v && /^'[=+\-@]/.test(v) ? v.slice(1) : v)
    t.same(
      rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, unprotect(v)]))),
      api.map(asCsv),
      'same records, same order, same text as GET /v1/purchases',
    )
    t.ok(rows.every((r) => r.org_id === a.orgId))
    const tricky = rows.find((r) => r.channel === 'enterprise' && r.occurred_on === '2023-12-31')!
    t.match(tricky, {
      supplier: `'=HYPERLINK("http://x")`,
      product: "'+86 电话",
      note: "'@提醒",
      external_ref: "'-7",
    })
    t.match(res.body, /"第一行\n第二行, 含逗号\n第三行"/, 'in-cell line breaks quoted')
  },
)

t.test('filters, scope and bad queries', async (t) => {
  const channel = readCsv(t, (await exportRes(a.auth, '?channel=wholesale&year=2024')).rawPayload)
  t.same(channel.map((r) => r.amount).sort(), ['1234.50', '125000.50', '99.99'], 'wholesale 2024 of org A')
  const range = readCsv(t, (await exportRes(a.auth, '?from=2024-03-02&to=2024-03-04')).rawPayload)
  t.same(
    range.map((r) => r.occurred_on),
    ['2024-03-04', '2024-03-03', '2024-03-02'],
  )

  const [victim] = await listAll(ctx, a.auth, 'channel=canteen&year=2024')
  const voided = await ctx.app.inject({
    method: 'POST',
    url: `/v1/purchases/${victim!.id}/void`,
    headers: a.auth,
    payload: { reason: '重复录入, "测试"' },
  })
  t.equal(voided.statusCode, 200)
  const onlyVoided = readCsv(t, (await exportRes(a.auth, '?status=voided')).rawPayload)
  t.equal(onlyVoided.length, 1)
  t.match(onlyVoided[0], { id: victim!.id, status: 'voided', void_reason: '重复录入, "测试"' })
  t.match(onlyVoided[0]!.voided_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  t.equal(readCsv(t, (await exportRes(a.auth, '?status=all')).rawPayload).length, 12)
  t.equal(readCsv(t, (await exportRes(a.auth)).rawPayload).length, 11, 'active by default')

  assertProblem(t, await exportRes(a.auth, `?org_id=${b.orgId}`), 403, 'forbidden')
  t.equal(readCsv(t, (await exportRes(a.auth, `?org_id=${a.orgId}`)).rawPayload).length, 11)
  const finance = (await createKey(ctx, 'finance')).auth
  const both = readCsv(t, (await exportRes(finance, '?status=all')).rawPayload)
  t.ok(
    both.some((r) => r.org_id === b.orgId) && both.some((r) => r.org_id === a.orgId),
    'finance sees every org',
  )
  t.equal(readCsv(t, (await exportRes(finance, `?org_id=${b.orgId}`)).rawPayload).length, 1)
  const empty = readCsv(t, (await exportRes(a.auth, '?year=2001')).rawPayload)
  t.same(empty, [], 'no match: header only')

  assertProblem(t, await exportRes(a.auth, '?limit=5'), 400, 'validation_failed')
  assertProblem(t, await exportRes(a.auth, '?format=pdf'), 400, 'validation_failed')
  assertProblem(t, await exportRes({ authorization: '' }), 401, 'unauthorized')
})

t.test('XLSX: Chinese titles, numbers and dates as such, read back with exceljs', async (t) => {
  const res = await exportRes(a.auth, '?format=xlsx&status=all')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
  t.match(res.headers['content-disposition'], /^attachment; filename="purchases_all_\d{8}\.xlsx"$/)
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(res.rawPayload as unknown as ArrayBuffer)
  const sheet = workbook.worksheets[0]!
  t.equal(sheet.name, '采购记录')
  const values = (n: number) => (sheet.getRow(n).values as unknown[]).slice(1)
  t.same(values(1), TITLES)
  const api = await listAll(ctx, a.auth, 'status=all')
  t.equal(sheet.rowCount, api.length + 1)
  let fen = 0n
  api.forEach((p, i) => {
    const [id, channel, amount, occurredOn, orgId, , supplier, , , , , , year, status] = values(i + 2)
    t.equal(id, p.id)
    t.type(amount, 'number')
    t.equal((amount as number).toFixed(2), p.amount, `amount of ${p.id}`)
    fen += BigInt(Math.round((amount as number) * 100))
    t.ok(occurredOn instanceof Date)
    t.equal((occurredOn as Date).toISOString().slice(0, 10), p.occurred_on)
    t.equal(orgId, a.orgId)
    t.equal(year, p.year)
    t.equal(
      channel,
      {
        wholesale: '大宗批发',
        union_welfare: '工会福利',
        enterprise: '企业采购',
        canteen: '食堂预留',
        market_sales: '市场销售',
      }[p.channel],
    )
    t.equal(status, p.status === 'active' ? '有效' : '已作废')
    t.equal(supplier, p.supplier, 'text as is (a string cell is never a formula)')
  })
  t.equal(fen, sumFen(api.map((p) => p.amount)), 'the numbers add up to the exact total')
  t.equal(sheet.getCell('C2').numFmt, '#,##0.00')
})

t.test('many rows: several keyset pages, each row once, in list order', async (t) => {
  const c = await createOrgWithReporter(ctx)
  const n = 12_345
  const lines = ['channel,amount,occurred_on,region_code,supplier']
  for (let i = 0; i < n; i++)
    lines.push(`canteen,${1 + (i % 1000)}.01,2024-0${1 + (i % 9)}-1${i % 10},530502,s${i}`)
  const imported = await postCsv(ctx, c.auth, `${lines.join('\n')}\n`)
  t.equal(imported.statusCode, 201, imported.body.slice(0, 300))
  const rows = readCsv(t, (await exportRes(c.auth)).rawPayload)
  t.equal(rows.length, n)
  t.equal(new Set(rows.map((r) => r.id)).size, n, 'no row twice')
  const sorted = [...rows].sort((x, y) =>
    x.occurred_on! !== y.occurred_on! ? (x.occurred_on! < y.occurred_on! ? 1 : -1) : x.id! < y.id! ? 1 : -1,
  )
  t.same(
    rows.map((r) => r.id),
    sorted.map((r) => r.id),
    'occurred_on desc, id desc',
  )
  t.equal(sumFen(rows.map((r) => r.amount!)), sumFen(lines.slice(1).map((l) => l.split(',')[1]!)))
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load((await exportRes(c.auth, '?format=xlsx')).rawPayload as unknown as ArrayBuffer)
  t.equal(workbook.worksheets[0]!.rowCount, n + 1)
})

t.test('round trip: export → import into a fresh org reproduces the same totals', async (t) => {
  const source = readCsv(t, (await exportRes(a.auth)).rawPayload)
  const file = (await exportRes(a.auth)).rawPayload

  // Same database: the vouchers are still counted on org A, so the voucher rule refuses them.
  const fresh = await createOrgWithReporter(ctx)
  const clash = await postCsv(ctx, admin, file, `?org_id=${fresh.orgId}`)
  const problem = assertProblem(t, clash, 409, 'duplicate_voucher')
  t.equal(
    problem.errors!.length,
    source.filter((r) => r.voucher_no).length,
    'every row with a voucher listed',
  )

  // Another installation (a fresh database): the export imports as it is into a new org.
  const target = await buildTestApp(t)
  const org = await createOrgWithReporter(target)
  const res = await postCsv(target, target.adminAuth, file, `?org_id=${org.orgId}`)
  t.equal(res.statusCode, 201, res.body.slice(0, 500))
  t.same(res.json(), { imported: source.length, amount: sumsTotal(source) })
  const copied = await listAll(target, org.auth, '')
  t.same(sumsByChannel(copied), sumsByChannel(source as unknown as Purchase[]), 'same total per channel')
  const fields = [
    'channel',
    'amount',
    'occurred_on',
    'region_code',
    'supplier',
    'supplier_credit_code',
    'product',
    'voucher_no',
    'external_ref',
    'note',
  ] as const
  const key = (r: Record<string, string | null>) => fields.map((f) => r[f]).join('|')
  t.same(
    copied.map((p) => key(p as unknown as Record<string, string | null>)).sort(),
    source
      .map((r) =>
        key(
          Object.fromEntries(
            Object.entries(r).map(([k, v]) => [k, v && /^'[=+\-@]/.test(v) ? v.slice(1) : v]),
          ),
        ),
      )
      .sort(),
    'every field comes back as it was (formula-protected text included)',
  )
  t.ok(copied.every((p) => p.org_id === org.orgId))
})

function sumsTotal(rows: Record<string, string | null>[]) {
  const fen = sumFen(rows.map((r) => r.amount!))
  return `${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`
}

t.test('a client that goes away mid-download stops the export; no connection is held', async (t) => {
  const c = await createOrgWithReporter(ctx)
  // About 10 MB of export: more than socket buffers hold, so the server is mid-stream when the client leaves.
  const lines = ['channel,amount,occurred_on,region_code,supplier,note']
  for (let i = 0; i < 10_000; i++) lines.push(`wholesale,1.00,2024-05-05,530502,供应商,${'x'.repeat(1000)}`)
  t.equal((await postCsv(ctx, c.auth, lines.join('\n'))).statusCode, 201)
  const address = await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  t.ok(address)
  for (const format of ['csv', 'xlsx']) {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        { port, host: '127.0.0.1', path: `/v1/purchases/export?format=${format}`, headers: c.auth },
        (res) => {
          t.equal(res.statusCode, 200)
          res.once('data', () => {
            req.destroy()
            resolve()
          })
        },
      )
      req.on('error', reject)
      req.end()
    })
  }
  const pool = ctx.database.pool
  if (pool) {
    for (let i = 0; i < 100 && pool.idleCount !== pool.totalCount; i++)
      await new Promise((r) => setTimeout(r, 50))
    t.equal(pool.idleCount, pool.totalCount, 'every pool connection is back and idle')
  }
  const after = await exportRes(c.auth, '?channel=wholesale')
  t.equal(readCsv(t, after.rawPayload).length, 10_000, 'exports still work')
})

t.test('pages read while records are written: each record once, none created after the start', async (t) => {
  const d = await createOrgWithReporter(ctx)
  const dates = ['2022-03-01', '2023-06-15', '2024-01-10', '2024-12-31']
  const before = await createPurchases(
    ctx,
    d.auth,
    Array.from({ length: 60 }, (_, i) => ({ occurred_on: dates[i % 4], amount: `${i + 1}.00` })),
  )
  // Pages of 7 over three years; the first page (2024-12-31) is read before anything changes.
  const pages = exportBatches(ctx.database, { org_id: d.orgId, status: 'active' }, 7)
  const first = await pages.next()
  const seen: string[] = (first.value as string[][]).map((row) => row[0]!)
  // Written and voided while the export runs, on dates still to be read (and one already read).
  const during = await createPurchases(
    ctx,
    d.auth,
    ['2024-12-31', '2024-01-10', '2023-06-15', '2022-03-01', '2022-01-01'].map((occurred_on) => ({
      occurred_on,
    })),
  )
  const unread = before.filter((p) => p.occurred_on === '2022-03-01')
  await voidPurchase(ctx, d.auth, unread[0]!.id)
  for await (const page of pages) seen.push(...page.map((row) => row[0]!))

  t.equal(new Set(seen).size, seen.length, 'no record twice')
  const expected = before.filter((p) => p.id !== unread[0]!.id)
  t.same(
    [...seen].sort(),
    expected.map((p) => p.id).sort(),
    'every record stored before the start, but the one voided',
  )
  t.notOk(
    during.some((p) => seen.includes(p.id)),
    'none of the records created after the start',
  )
})

t.test(
  'long rows make short pages: memory holds about 256 K characters per export, not 1 000 rows',
  async (t) => {
    const e = await createOrgWithReporter(ctx)
    t.equal((await postCsv(ctx, e.auth, bulkyCsv(600))).statusCode, 201)
    const sizes: { rows: number; chars: number }[] = []
    for await (const page of exportBatches(ctx.database, { org_id: e.orgId, status: 'active' })) {
      sizes.push({ rows: page.length, chars: page.flat().reduce((n, cell) => n + (cell?.length ?? 0), 0) })
    }
    t.equal(
      sizes.reduce((n, s) => n + s.rows, 0),
      600,
      'every record',
    )
    t.ok(sizes.length > 3, `${sizes.length} pages`)
    t.ok(
      sizes.every((s) => s.chars <= 300_000),
      `page sizes (characters): ${sizes.map((s) => s.chars).join(', ')}`,
    )
  },
)
