/**
 * Downloads nobody reads cannot starve the service (issue 13, acceptance 2). 25 exports are opened over real
 * HTTP and never read, so the server is held by backpressure; meanwhile `/readyz` and `GET /v1/totals` answer
 * 200 and, on PostgreSQL, no pooled connection is checked out (the test pool has 10, test/helper.ts). Once
 * the clients drop, the service is healthy and new exports are complete. Twice: with the default
 * concurrency limit (8 run, 17 are refused with 429 and Retry-After) and with the limit above 25, so every
 * download is running and only the export's design keeps the pool free.
 */
import type { ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { postCsv } from '../api.js'
import { bulkyCsv, eventually, listening, openUnread, watchResponses } from '../downloads.js'
import { createKey, createOrgWithReporter } from '../factories.js'
import { buildTestApp, freshDatabase } from '../helper.js'

const ROWS = 2_500
const DOWNLOADS = 25

const { database } = await freshDatabase(t)
const seed = await buildTestApp(t, { database })
const org = await createOrgWithReporter(seed)
const imported = await postCsv(seed, org.auth, bulkyCsv(ROWS))
t.equal(imported.statusCode, 201, 'seeded')

const pool = database.pool
/** Pooled connections checked out right now (always 0 on PGlite, which has no pool). */
const checkedOut = () => (pool ? pool.totalCount - pool.idleCount : 0)

/** Records in a CSV export: lines after the header (no cell here holds a line break). */
const csvRecords = (text: string) => text.split('\r\n').length - 2

async function fullExport(port: number, auth: Record<string, string>) {
  const res = await fetch(`http://127.0.0.1:${port}/v1/purchases/export`, {
    headers: auth,
    signal: AbortSignal.timeout(60_000),
  })
  return { status: res.status, records: csvRecords(await res.text()) }
}

async function unreadDownloads(t: Test, env: Record<string, string>, accepted: number) {
  const ctx = await buildTestApp(t, { database, env })
  const served = watchResponses(ctx.app, '/v1/purchases/export')
  const port = await listening(ctx.app)
  const keys = await Promise.all(
    Array.from({ length: DOWNLOADS }, () => createKey(ctx, 'reporter', org.orgId)),
  )
  const held = await Promise.all(keys.map((k) => openUnread(port, '/v1/purchases/export', k.auth)))
  t.teardown(() => {
    for (const h of held) h.destroy()
  })

  const running = held.filter((h) => h.status === 200)
  const refused = held.filter((h) => h.status !== 200)
  t.equal(running.length, accepted, `${accepted} downloads run`)
  t.equal(refused.length, DOWNLOADS - accepted, `${DOWNLOADS - accepted} refused`)
  for (const r of refused) {
    t.equal(r.status, 429, String(r.body).slice(0, 200))
    t.match(r.headers['content-type'], /^application\/problem\+json/)
    t.match(JSON.parse(r.body!), { code: 'rate_limited', status: 429 })
    t.match(r.headers['retry-after'], /^[1-9][0-9]*$/, 'Retry-After in seconds')
  }

  const streaming = (res: ServerResponse) => res.statusCode === 200
  t.ok(
    await eventually(
      () =>
        served.filter(streaming).length === running.length &&
        served.filter(streaming).every((res) => res.writableNeedDrain),
    ),
    'every running download is blocked, waiting for its client to read',
  )
  t.ok(await eventually(() => checkedOut() === 0), 'no pooled connection is held by the waiting downloads')
  t.notOk(
    served.filter(streaming).some((res) => res.writableFinished),
    'no download has finished: the server is held mid-stream',
  )

  const readyz = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(20_000) })
  t.equal(readyz.status, 200, '/readyz answers 200 meanwhile')
  const totals = await fetch(`http://127.0.0.1:${port}/v1/totals?year=2024`, {
    headers: org.auth,
    signal: AbortSignal.timeout(20_000),
  })
  t.equal(totals.status, 200, 'GET /v1/totals answers 200 meanwhile')

  for (const h of held) h.destroy()
  t.ok(await eventually(() => served.every((res) => res.destroyed)), 'every download is closed')
  t.ok(await eventually(() => checkedOut() === 0), 'every pooled connection is back')
  const after = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(20_000) })
  t.equal(after.status, 200, 'healthy after the clients dropped')
  // As many complete exports at once as were running: the dropped downloads gave their slots back.
  const again = await Promise.all(keys.slice(0, Math.min(accepted, 8)).map((k) => fullExport(port, k.auth)))
  t.same(
    again,
    again.map(() => ({ status: 200, records: ROWS })),
    'new exports run and are complete',
  )
}

t.test('default limits: 8 run, 17 are refused with 429, the service keeps answering', (t) =>
  unreadDownloads(t, {}, 8),
)

t.test('limit lifted: 25 run unread, the pool stays free for everyone else', (t) =>
  unreadDownloads(t, { BULK_CONCURRENCY: '100' }, DOWNLOADS),
)
