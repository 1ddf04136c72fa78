/**
 * POST /v1/purchases/import against pathological files, on a real server (issue 13, acceptance 3): each is
 * answered 4xx problem+json with a bounded body (error lists capped at 1 000, with the total), and a
 * `/healthz` poller on its own thread (every 50 ms, over HTTP) never waits a second meanwhile; the same for a
 * large valid file's dry run. (purchases-import-bounds.test.ts checks the answers' contents on smaller files.)
 */
import { Agent } from 'node:http'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { pollHealthz } from '../../scripts/lib/healthz-poller.js'
import { httpRequest } from '../../scripts/lib/http.js'
import { createOrgWithReporter } from '../factories.js'
import { assertProblem, buildTestApp, countRows } from '../helper.js'

const ctx = await buildTestApp(t)
const org = await createOrgWithReporter(ctx)
const address = await ctx.app.listen({ port: 0, host: '127.0.0.1' })
const agent = new Agent()

const HEADER = 'channel,amount,occurred_on,region_code,supplier,voucher_no'
const row = (i: number) =>
  `wholesale,${100 + (i % 900)}.50,2024-05-20,530502,保山市某某农业开发有限公司,V-${i}`
const rows = (n: number, make = row) => Array.from({ length: n }, (_, i) => make(i)).join('\n')
const MB = 1024 * 1024
/** The bound the issue sets on /healthz while an import runs. */
const LIVENESS_MS = 1_000

/** Posts the file over HTTP while /healthz is polled; asserts the poller never waited LIVENESS_MS. */
async function postWatched(t: Test, body: Buffer | string, query = ''): Promise<LightMyRequestResponse> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  const poller = await pollHealthz(address)
  // node:http writes the buffer as it is (fetch would copy it, on the server's thread).
  const res = await httpRequest(agent, `${address}/v1/purchases/import${query}`, {
    method: 'POST',
    headers: { ...org.auth, 'content-type': 'text/csv' },
    body: bytes,
    timeoutMs: 120_000,
  })
  const waits = await poller.stop()
  t.same(waits.failures, [], '/healthz answered every time')
  t.ok(
    waits.longestMs < LIVENESS_MS,
    `/healthz waited at most ${Math.round(waits.longestMs)} ms (bound ${LIVENESS_MS}; ${waits.answers} answers)`,
  )
  t.ok(res.body.length < MB, `a bounded body (${res.body.length} characters)`)
  return {
    statusCode: res.status,
    headers: res.headers,
    body: res.body,
    json: () => JSON.parse(res.body),
  } as unknown as LightMyRequestResponse
}

/** A 400 whose error list is capped at 1 000 and whose detail counts them all. */
function assertCapped(t: Test, res: LightMyRequestResponse, total: number) {
  const problem = assertProblem(t, res, 400, 'validation_failed')
  t.equal(problem.errors?.length, 1_000, 'the list is capped')
  t.match(problem.detail, `${total} problem(s)`, 'the detail counts them all')
  t.match(problem.detail, 'the first 1000 are listed')
}

t.test('a header of 400 000 columns', async (t) => {
  const columns = Array.from({ length: 400_000 }, (_, i) => `col${i}`).join(',')
  const res = await postWatched(t, `${HEADER},${columns}\n${row(0)}\n`)
  const problem = assertProblem(t, res, 400, 'validation_failed', ['/rows/1'])
  t.match(problem.errors![0]!.message, 'row 1 has more than 16384 cells')
})

t.test('a header of 16 000 unknown columns: each a problem, 1 000 listed', async (t) => {
  const columns = Array.from({ length: 16_000 }, (_, i) => `col${i}`).join(',')
  const res = await postWatched(t, `${HEADER},${columns}\n${row(0)}\n`)
  assertCapped(t, res, 16_000)
})

t.test('600 KB of U+FFFD ending in an invalid UTF-8 byte', async (t) => {
  const body = Buffer.concat([Buffer.from('\ufffd'.repeat(200_000)), Buffer.from([0xff])])
  const res = await postWatched(t, body)
  const [error] = assertProblem(t, res, 400, 'validation_failed', ['/']).errors!
  t.match(error!.message, 'first bad byte at offset 600000, line 1')
})

t.test('16 MiB of bare newlines ending in an invalid UTF-8 byte', async (t) => {
  const body = Buffer.concat([Buffer.alloc(16 * MB, '\n'), Buffer.from([0xff])])
  const res = await postWatched(t, body)
  const [error] = assertProblem(t, res, 400, 'validation_failed', ['/']).errors!
  t.match(error!.message, `first bad byte at offset ${16 * MB}, line ${16 * MB + 1}`)
})

t.test('4 MiB of bare newlines', async (t) => {
  const alone = await postWatched(t, '\n'.repeat(4 * MB))
  assertProblem(t, alone, 400, 'validation_failed', ['/rows/1'])
  const afterHeader = await postWatched(t, `${HEADER}\n${'\n'.repeat(4 * MB)}`)
  const problem = assertProblem(t, afterHeader, 400, 'validation_failed', ['/rows'])
  t.match(problem.errors![0]!.message, 'no data rows')
})

t.test('a header with 200 000 unnamed columns', async (t) => {
  const res = await postWatched(t, `${HEADER}${','.repeat(200_000)},note\n${rows(10)}\n`)
  const problem = assertProblem(t, res, 400, 'validation_failed', ['/rows/1'])
  t.match(problem.errors![0]!.message, 'row 1 has more than 16384 cells')
})

t.test('4 MiB of commas: a row of 4 million cells', async (t) => {
  const res = await postWatched(t, `${HEADER}\n${','.repeat(4 * MB)}\n`)
  const problem = assertProblem(t, res, 400, 'validation_failed', ['/rows/2'])
  t.match(problem.errors![0]!.message, 'row 2 has more than 16384 cells')
})

t.test('16 000 unnamed columns, then a row with data under one and 100 000 short rows', async (t) => {
  const header = `${HEADER}${','.repeat(16_000)},note`
  const res = await postWatched(t, `${header}\n${row(0)},x\n${rows(100_000)}\n`)
  const problem = assertProblem(t, res, 400, 'validation_failed', ['/rows/2'])
  t.match(problem.errors![0]!.message, 'cell G2 has data but its column has no header')
})

t.test('20 MiB of rows, each with one cell more than the header', async (t) => {
  const n = Math.floor((20 * MB) / (row(0).length + 8))
  const res = await postWatched(t, `${HEADER}\n${rows(n, (i) => `${row(i)},extra`)}\n`)
  assertCapped(t, res, n)
  t.equal(await countRows(ctx), 0)
})

t.test('a large valid file, dry run', async (t) => {
  const n = Math.floor((24 * MB) / (row(0).length + 8))
  const res = await postWatched(t, `${HEADER}\n${rows(n)}\n`, '?dry_run=true')
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  t.match(res.json(), { valid: true, count: n })
  t.equal(await countRows(ctx), 0)
})
