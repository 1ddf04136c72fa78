/**
 * Imports and exports running at once are capped per API key and per instance (429 `rate_limited` with
 * Retry-After beyond either), a slot is given back however its request ends — answered, refused, client gone
 * mid-download or mid-upload — and an export whose client stops reading is dropped after
 * EXPORT_STALL_TIMEOUT_MS. Downloads are held open over real HTTP (test/downloads.ts).
 */
import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { postCsv } from '../api.js'
import {
  bulkyCsv,
  eventually,
  type HeldResponse,
  listening,
  openUnread,
  watchResponses,
} from '../downloads.js'
import { createKey, createOrgWithReporter, csv } from '../factories.js'
import { type Auth, assertProblem, buildTestApp, freshDatabase, type TestApp } from '../helper.js'

const ROWS = 2_500

const { database } = await freshDatabase(t)
const ctx = await buildTestApp(t, {
  database,
  env: { BULK_CONCURRENCY: '3', BULK_CONCURRENCY_PER_KEY: '2' },
})
const org = await createOrgWithReporter(ctx)
t.equal((await postCsv(ctx, org.auth, bulkyCsv(ROWS))).statusCode, 201, 'seeded')
const port = await listening(ctx.app)

const reporter = async () => (await createKey(ctx, 'reporter', org.orgId)).auth
/** Exports of the bulky records only (the small imports below are another channel). */
const EXPORT = '/v1/purchases/export?channel=wholesale'
const hold = (auth: Auth) => openUnread(port, EXPORT, auth)
const exportRes = (app: TestApp, auth: Auth) => app.app.inject({ url: EXPORT, headers: auth })
const smallCsv = () =>
  csv('channel,amount,occurred_on,region_code,supplier', 'enterprise,1.00,2024-06-01,530502,乙')
/** Records in a CSV export (no cell here holds a line break). */
const records = (body: string) => body.split('\r\n').length - 2

function assertRefused(t: Test, res: Awaited<ReturnType<typeof exportRes>>, detail: RegExp) {
  const problem = assertProblem(t, res, 429, 'rate_limited')
  t.match(problem.detail, detail)
  t.match(res.headers['retry-after'], /^[1-9][0-9]*$/, 'Retry-After in seconds')
}

/** Polls until `auth` can export again (its slots, and the instance's, were given back). */
const exportsAgain = (auth: Auth) =>
  (async () => {
    for (const end = Date.now() + 20_000; Date.now() < end; ) {
      const res = await exportRes(ctx, auth)
      if (res.statusCode === 200) return res
      await new Promise((r) => setTimeout(r, 50))
    }
    return undefined
  })()

t.test('per key, then per instance; imports and exports share the count', async (t) => {
  const [a, b, c] = [await reporter(), await reporter(), await reporter()]
  const held: HeldResponse[] = []
  t.teardown(() => {
    for (const h of held) h.destroy()
  })
  held.push(await hold(a), await hold(a))
  t.same(
    held.map((h) => h.status),
    [200, 200],
    'a key runs two exports',
  )
  assertRefused(t, await exportRes(ctx, a), /this API key/i)
  assertRefused(t, await postCsv(ctx, a, smallCsv()), /this API key/i)

  held.push(await hold(b))
  t.equal(held[2]!.status, 200, 'another key is not held back by the first one')
  assertRefused(t, await exportRes(ctx, c), /server/i)
  assertRefused(t, await postCsv(ctx, c, smallCsv()), /server/i)
  const list = await ctx.app.inject({ url: '/v1/purchases?limit=1', headers: c })
  t.equal(list.statusCode, 200, 'other routes are not limited')

  for (const h of held) h.destroy()
  const freed = await exportsAgain(c)
  t.ok(freed, 'slots come back once the clients have gone')
  t.equal(records(freed!.body), ROWS, 'and the export is complete')
  const again = [await hold(a), await hold(a), await hold(b)]
  held.push(...again)
  t.same(
    again.map((h) => h.status),
    [200, 200, 200],
    'all three slots are free again, both of the key’s too',
  )
  for (const h of again) h.destroy()
  t.ok(await exportsAgain(c), 'and free once more when those have gone')
})

t.test('answered and refused requests give their slots back', async (t) => {
  const a = await reporter()
  for (let i = 0; i < 5; i++) {
    t.equal((await exportRes(ctx, a)).statusCode, 200, `export ${i + 1}`)
    t.equal((await postCsv(ctx, a, smallCsv())).statusCode, 201, `import ${i + 1}`)
    t.equal((await postCsv(ctx, a, 'nonsense\n')).statusCode, 400, `refused import ${i + 1}`)
  }
  const held = [await hold(a), await hold(a)]
  t.teardown(() => {
    for (const h of held) h.destroy()
  })
  t.same(
    held.map((h) => h.status),
    [200, 200],
    'the key still has both slots',
  )
  for (const h of held) h.destroy()
  t.ok(await exportsAgain(a))
})

t.test('an upload dropped half-way gives its slot back', async (t) => {
  const a = await reporter()
  const uploads = watchResponses(ctx.app, '/v1/purchases/import')
  const sockets = [0, 1].map(() => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write(
      `POST /v1/purchases/import HTTP/1.1\r\nHost: x\r\nAuthorization: ${a.authorization}\r\n` +
        'Content-Type: text/csv\r\nContent-Length: 1000000\r\n\r\nchannel,amount,occurred_on',
    )
    return socket
  })
  t.teardown(() => {
    for (const s of sockets) s.destroy()
  })
  t.ok(await eventually(() => uploads.length === 2), 'both uploads have started')
  t.notOk(
    uploads.some((res) => res.headersSent),
    'neither is answered: they wait for the rest of their body',
  )
  assertRefused(t, await exportRes(ctx, a), /this API key/i)
  for (const s of sockets) s.destroy()
  t.ok(await exportsAgain(a), 'dropped, they give the key’s slots back')
})

t.test('an export whose client stops reading is dropped after the stall timeout', async (t) => {
  const stalling = await buildTestApp(t, {
    database,
    env: { EXPORT_STALL_TIMEOUT_MS: '1000', BULK_CONCURRENCY_PER_KEY: '1' },
  })
  const served = watchResponses(stalling.app, '/v1/purchases/export')
  const stallPort = await listening(stalling.app)
  const key = (await createKey(stalling, 'reporter', org.orgId)).auth
  const held = await openUnread(stallPort, EXPORT, key)
  t.teardown(() => held.destroy())
  t.equal(held.status, 200)
  t.ok(await eventually(() => served[0]?.destroyed === true), 'the server dropped the stalled download')
  const pool = database.pool
  if (pool) t.ok(await eventually(() => pool.idleCount === pool.totalCount), 'no pooled connection held')
  const next = await exportRes(stalling, key)
  t.equal(next.statusCode, 200, 'the key’s only slot is free again')
  t.equal(records(next.body), ROWS)

  // A client that reads with pauses shorter than the timeout keeps its download, however long it takes.
  const slow = await slowDownload(stallPort, key, 250)
  t.equal(slow.status, 200)
  t.equal(records(slow.body), ROWS, 'a slow reader gets the whole file')
  t.ok(slow.pauses > 4, `it paused ${slow.pauses} times, longer in all than the stall timeout`)
})

/** Downloads over HTTP, pausing `pauseMs` after every MiB read. */
function slowDownload(port: number, auth: Auth, pauseMs: number) {
  return new Promise<{ status: number; body: string; pauses: number }>((resolve, reject) => {
    fetch(`http://127.0.0.1:${port}${EXPORT}`, { headers: auth })
      .then(async (res) => {
        const reader = res.body!.getReader()
        const chunks: Uint8Array[] = []
        let sinceLastPause = 0
        let pauses = 0
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          chunks.push(value)
          sinceLastPause += value.length
          if (sinceLastPause >= 1024 * 1024) {
            sinceLastPause = 0
            pauses++
            await new Promise((r) => setTimeout(r, pauseMs))
          }
        }
        resolve({ status: res.status, body: Buffer.concat(chunks).toString('utf8'), pauses })
      })
      .catch(reject)
  })
}
