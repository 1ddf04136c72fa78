/**
 * POST /v1/purchases/import checks and inserts chunk by chunk while it parses: a problem found in a late
 * chunk (after earlier chunks were inserted) still answers with every problem and stores nothing.
 */
import { Readable } from 'node:stream'
import { sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { queryRows } from '../../src/db/client.js'
import { IMPORT_CHUNK } from '../../src/modules/purchases/import/import-pass.js'
import { MAX_REPORTED_ERRORS } from '../../src/modules/purchases/import/import-problems.js'
import { listAll, postCsv } from '../api.js'
import { createOrgWithReporter, uniq, yuan } from '../factories.js'
import { type Auth, assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)

/** More than two chunks, so the last rows are parsed after earlier chunks went to the database. */
const ROWS = 12_000
t.ok(ROWS > 2 * IMPORT_CHUNK, `${ROWS} rows span ${Math.ceil(ROWS / IMPORT_CHUNK)} chunks`)

const HEADER = 'channel,amount,occurred_on,region_code,supplier,voucher_no'

/** Data rows i = 0 … n-1 (spreadsheet row i + 2), each with its own voucher; `edit` may rewrite one. */
function bigFile(tag: string, n = ROWS, edit: (row: number, cells: string[]) => void = () => {}) {
  const lines = [HEADER]
  let fen = 0n
  for (let i = 0; i < n; i++) {
    const f = 100n + BigInt((i * 7919) % 99_999)
    fen += f
    const cells = ['wholesale', yuan(f), '2024-03-15', '530502', `供应商${i % 13}`, `${tag}-${i}`]
    edit(i + 2, cells)
    lines.push(cells.join(','))
  }
  return { body: Buffer.from(`${lines.join('\r\n')}\r\n`), fen }
}

interface Snapshot {
  purchases: number
  audit: number
  keys: number
  grandTotal: string
}

/** What the database holds for one org, and the district's 2024 total (the rollup the trigger keeps). */
async function snapshot(orgId: string): Promise<Snapshot> {
  const [r] = await queryRows<{ purchases: string; audit: string; keys: string }>(
    ctx.database.db,
    sql`select (select count(*) from purchases where org_id = ${orgId}::uuid)::text as purchases,
               (select count(*) from audit_log where action = 'purchase.created')::text as audit,
               (select count(*) from idempotency_keys)::text as keys`,
  )
  const totals = await ctx.app.inject({ url: '/v1/totals?year=2024', headers: ctx.adminAuth })
  if (totals.statusCode !== 200) throw new Error(`totals: ${totals.statusCode} ${totals.body}`)
  return {
    purchases: Number(r!.purchases),
    audit: Number(r!.audit),
    keys: Number(r!.keys),
    grandTotal: (totals.json() as { grand_total: string }).grand_total,
  }
}

async function expectNothingStored(t: Test, org: { orgId: string; auth: Auth }, before: Snapshot) {
  t.same(await snapshot(org.orgId), before, 'no record, audit row, key or total changed')
  t.same(await listAll(ctx, org.auth, `org_id=${org.orgId}`), [], 'the list shows nothing')
}

t.test('a bad cell in the last rows → 400 naming that row; nothing stored', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const before = await snapshot(org.orgId)
  const last = ROWS + 1
  const { body } = bigFile(uniq('A'), ROWS, (row, cells) => {
    if (row === last - 1) cells[1] = '12.345'
  })
  const res = await postCsv(ctx, org.auth, body, '', { 'idempotency-key': 'late-bad-cell' })
  const [error] = assertProblem(t, res, 400, 'validation_failed', [`/rows/${last - 1}/amount`]).errors!
  t.match(error!.message, /amount|decimal|yuan|digits/i)
  await expectNothingStored(t, org, before)

  // The key was rolled back with the import: the corrected file goes through with it.
  const good = bigFile(uniq('A'))
  const ok = await postCsv(ctx, org.auth, good.body, '', { 'idempotency-key': 'late-bad-cell' })
  t.equal(ok.statusCode, 201, ok.body.slice(0, 300))
  t.same(ok.json(), { imported: ROWS, amount: yuan(good.fen) })
  const after = await snapshot(org.orgId)
  t.equal(after.purchases, ROWS)
  t.equal(after.audit, before.audit + ROWS, 'one audit row per record')
})

t.test('a domain problem in the last row → 400 naming that row; nothing stored', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const before = await snapshot(org.orgId)
  const { body } = bigFile(uniq('D'), ROWS, (row, cells) => {
    if (row === ROWS + 1) cells[3] = '999999'
    if (row === 3) cells[2] = '2099-01-01'
  })
  const errors = assertProblem(t, await postCsv(ctx, org.auth, body), 400, 'validation_failed', [
    '/rows/3/occurred_on',
    `/rows/${ROWS + 1}/region_code`,
  ]).errors!
  t.match(errors[1]!.message, /registered/)
  await expectNothingStored(t, org, before)
})

t.test('cell problems come first: a late bad cell hides an early domain problem and clashes', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const before = await snapshot(org.orgId)
  const tag = uniq('O')
  const { body } = bigFile(tag, ROWS, (row, cells) => {
    if (row === 2) cells[3] = '999999'
    if (row === 9_000) cells[5] = `${tag}-1`
    if (row === ROWS) cells[0] = 'shopping'
  })
  assertProblem(t, await postCsv(ctx, org.auth, body), 400, 'validation_failed', [`/rows/${ROWS}/channel`])
  // Without the bad cell the domain problem speaks, still not the clash.
  const { body: domainOnly } = bigFile(tag, ROWS, (row, cells) => {
    if (row === 2) cells[3] = '999999'
    if (row === 9_000) cells[5] = `${tag}-1`
  })
  assertProblem(t, await postCsv(ctx, org.auth, domainOnly), 400, 'validation_failed', [
    '/rows/2/region_code',
  ])
  await expectNothingStored(t, org, before)
})

t.test('row 2 and a row chunks later share a voucher → 409 listing both; nothing stored', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const before = await snapshot(org.orgId)
  const tag = uniq('R')
  const late = ROWS - 500
  const { body } = bigFile(tag, ROWS, (row, cells) => {
    if (row === late) cells[5] = `${tag}-0` // row 2's voucher
  })
  const res = await postCsv(ctx, org.auth, body)
  const problem = assertProblem(t, res, 409, 'duplicate_voucher')
  t.same(problem.errors, [
    { path: '/rows/2/voucher_no', message: `voucher ${tag}-0 appears more than once in this request` },
    { path: `/rows/${late}/voucher_no`, message: `voucher ${tag}-0 appears more than once in this request` },
  ])
  t.notOk(problem.existing_id)
  await expectNothingStored(t, org, before)
})

t.test('a stored voucher in a late chunk → 409 with existing_id; nothing more stored', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const taken = uniq('T')
  const first = await postCsv(ctx, org.auth, `${HEADER}\r\nwholesale,1.00,2024-03-15,530502,x,${taken}\r\n`)
  t.equal(first.statusCode, 201)
  const [existing] = await listAll(ctx, org.auth, `voucher_no=${taken}`)
  const before = await snapshot(org.orgId)
  const late = ROWS - 1
  const { body } = bigFile(uniq('S'), ROWS, (row, cells) => {
    if (row === late) cells[5] = taken
  })
  const problem = assertProblem(t, await postCsv(ctx, org.auth, body), 409, 'duplicate_voucher')
  t.same(problem.errors, [
    {
      path: `/rows/${late}/voucher_no`,
      message: `voucher ${taken} is already on active record ${existing!.id}`,
    },
  ])
  t.equal(problem.existing_id, existing!.id)
  t.same(await snapshot(org.orgId), before, 'only the first record is stored')
})

t.test(`more than ${MAX_REPORTED_ERRORS} clashes: the lowest rows are listed, all counted`, async (t) => {
  const org = await createOrgWithReporter(ctx)
  const before = await snapshot(org.orgId)
  // Every voucher four times, 3 000 apart: every row clashes, and a voucher's first row is only found
  // clashing when its second row is parsed, chunks later.
  const tag = uniq('M')
  const { body } = bigFile(tag, ROWS, (row, cells) => {
    cells[5] = `${tag}-${(row - 2) % 3_000}`
  })
  const problem = assertProblem(t, await postCsv(ctx, org.auth, body), 409, 'duplicate_voucher')
  t.same(
    problem.errors!.map((e) => e.path),
    Array.from({ length: MAX_REPORTED_ERRORS }, (_, i) => `/rows/${i + 2}/voucher_no`),
  )
  t.match(problem.detail, new RegExp(`${ROWS} problems in all; the first ${MAX_REPORTED_ERRORS} are listed`))
  await expectNothingStored(t, org, before)
})

t.test('dry run of a large file: counted and summed, nothing stored', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const before = await snapshot(org.orgId)
  const { body, fen } = bigFile(uniq('Y'))
  const res = await postCsv(ctx, org.auth, body, '?dry_run=true')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { valid: true, count: ROWS, amount: yuan(fen) })
  await expectNothingStored(t, org, before)
})

t.test('a reused Idempotency-Key with a bad file: the file is answered first (400), as before', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const key = { 'idempotency-key': uniq('K') }
  const ok = await postCsv(
    ctx,
    org.auth,
    `${HEADER}\r\nwholesale,1.00,2024-03-15,530502,x,${uniq()}\r\n`,
    '',
    key,
  )
  t.equal(ok.statusCode, 201)
  const bad = `${HEADER}\r\nwholesale,-1,2024-03-15,530502,x,${uniq()}\r\n`
  assertProblem(t, await postCsv(ctx, org.auth, bad, '', key), 400, 'validation_failed', ['/rows/2/amount'])
  const other = `${HEADER}\r\nwholesale,2.00,2024-03-15,530502,x,${uniq()}\r\n`
  assertProblem(t, await postCsv(ctx, org.auth, other, '', key), 422, 'idempotency_key_reused')
})

t.test('the body: without Content-Length (chunked) too; over 64 MiB either way → 413', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const { body, fen } = bigFile(uniq('C'), 2_000)
  // inject sends a stream payload without Content-Length, as a chunked upload.
  const streamed = (buf: Buffer, size = 1 << 20) =>
    Readable.from(
      (function* () {
        for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size)
      })(),
    )
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases/import?dry_run=true',
    headers: { ...org.auth, 'content-type': 'text/csv' },
    payload: streamed(body, 4_096),
  })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  t.same(res.json(), { valid: true, count: 2_000, amount: yuan(fen) })

  const big = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases/import',
    headers: { ...org.auth, 'content-type': 'text/csv' },
    payload: streamed(Buffer.alloc(64 * 1024 * 1024 + 1, 0x41)),
  })
  assertProblem(t, big, 413, 'payload_too_large')
  const short = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases/import',
    headers: { ...org.auth, 'content-type': 'text/csv', 'content-length': String(body.length + 10) },
    payload: streamed(body),
  })
  assertProblem(t, short, 400, 'validation_failed')
})
