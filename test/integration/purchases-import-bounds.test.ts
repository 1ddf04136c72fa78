/**
 * POST /v1/purchases/import: the work and the answer stay bounded whatever the file (issue 13): header
 * problems are capped like the others, the bad-byte locator is exact past many real U+FFFD, and a header
 * of many unnamed columns still flags data under them.
 */
import t from 'tap'
import { postCsv } from '../api.js'
import { createOrgWithReporter, csv } from '../factories.js'
import { assertProblem, buildTestApp, countRows } from '../helper.js'

const ctx = await buildTestApp(t)
const org = await createOrgWithReporter(ctx)
const HEADER = 'channel,amount,occurred_on,region_code,supplier'
const ROW = 'wholesale,100.00,2024-05-20,530502,保山市某某农业开发有限公司'

t.test('a header of 5 000 unknown columns → 400 listing the first 1 000, counting all', async (t) => {
  const bad = Array.from({ length: 5_000 }, (_, i) => `bogus${i}`)
  const res = await postCsv(ctx, org.auth, csv(`${HEADER},${bad.join(',')}`, ROW))
  const problem = assertProblem(t, res, 400, 'validation_failed')
  t.equal(problem.errors?.length, 1_000, 'the list is capped')
  t.equal(problem.errors?.[0]?.path, '/rows/1/bogus0', 'in column order')
  t.match(problem.detail, /5000 problem\(s\); the first 1000 are listed/)
  t.ok(res.body.length < 1_000_000, `a bounded body (${res.body.length} bytes)`)
  t.equal(await countRows(ctx), 0)
})

t.test('a header under the cap lists every problem, without the "first N" note', async (t) => {
  const res = await postCsv(ctx, org.auth, csv(`${HEADER},bogus,other`, ROW))
  const problem = assertProblem(t, res, 400, 'validation_failed', ['/rows/1/bogus', '/rows/1/other'])
  t.equal(problem.detail, 'The header row has 2 problem(s).')
})

t.test('the first bad byte is found exactly after many real U+FFFD characters', async (t) => {
  const head = Buffer.from(`${HEADER}\r\nwholesale,100.00,2024-05-20,530502,`)
  const replacement = Buffer.from('\ufffd'.repeat(20_000)) // valid UTF-8: EF BF BD each
  const astral = Buffer.from('𠀀\n') // 4 bytes, then a line break
  const body = Buffer.concat([head, replacement, astral, Buffer.from([0xff])])
  const res = await postCsv(ctx, org.auth, body)
  const [error] = assertProblem(t, res, 400, 'validation_failed', ['/']).errors!
  t.match(error!.message, `first bad byte at offset ${body.length - 1}, line 3`)
})

t.test('data under an unnamed column is flagged, however many unnamed columns the header has', async (t) => {
  const unnamed = ','.repeat(2_000)
  const header = `${HEADER}${unnamed},voucher_no`
  const withData = `${ROW},,x${','.repeat(1_998)},V-1`
  const res = await postCsv(ctx, org.auth, csv(header, withData, `${ROW}${unnamed},V-2`))
  const problem = assertProblem(t, res, 400, 'validation_failed', ['/rows/2'])
  t.match(problem.errors?.[0]?.message, 'cell G2 has data but its column has no header')
  const ok = await postCsv(ctx, org.auth, csv(header, `${ROW}${unnamed},V-3`, ROW))
  t.equal(ok.statusCode, 201, ok.body)
})
