/**
 * `npm run bench:import-liveness`: how long a CSV import holds the event loop (issue 13). Runs the app
 * in-process (buildApp + listen on an ephemeral port) on PostgreSQL (DATABASE_URL: a fresh bench database
 * on that server, dropped at the end) or, without DATABASE_URL, on an embedded PGlite database in a temporary
 * directory, and posts each file while
 *
 * - `perf_hooks.monitorEventLoopDelay` (1 ms resolution) records the server's event-loop delay: its max is
 *   the longest stretch the loop was held (CPU work, and on PGlite the database's own, on the main thread);
 * - a `/healthz` poller on its own thread asks every 50 ms over HTTP and keeps its longest wait.
 *
 * Files: LIVENESS_ROWS (500 000, about 64 MiB) rows as an agency would upload them, dry run and real import;
 * the same rows each with one cell too many; and the pathological files of the acceptance test (and a
 * 60 MiB one whose bad byte is at the end). Prints one line per file: status, seconds, longest event-loop
 * delay, its p99, the longest /healthz wait. The request is sent with node:http from this process (which
 * writes the buffer as it is), so the delays are the server's.
 * Env: DATABASE_URL, LIVENESS_ROWS, LIVENESS_CASES (comma-separated starts of names, e.g. `valid rows,400`; all by default).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { pollHealthz } from '../lib/healthz-poller.js'
import { httpRequest, postJson } from '../lib/http.js'
import { installSignalHandlers, onCleanup, runMain } from '../lib/processes.js'
import { importCsv, makeRows } from './import-rows.js'
import { createBenchDatabase } from './seed.js'

const ROWS = Number(process.env.LIVENESS_ROWS ?? 500_000)
const ONLY = process.env.LIVENESS_CASES?.split(',').filter(Boolean)
const ADMIN = `bench-admin-${randomBytes(12).toString('hex')}`
const MB = 1024 * 1024

const log = (msg: string) => console.error(`[liveness ${new Date().toISOString().slice(11, 19)}] ${msg}`)

/** The files, made when their turn comes (a few of them at 64 MiB would not fit in memory at once). */
function cases(): [name: string, query: string, make: () => Buffer][] {
  const header = '渠道,金额（元）,发生日期,地区代码,供应商,产品,凭证号'
  const ragged = () => {
    const text = importCsv(makeRows(ROWS, 'R')).toString('utf8')
    return Buffer.from(text.replaceAll('\r\n', ',extra\r\n').replace(`${header},extra`, header))
  }
  return [
    ['valid rows (dry run)', '&dry_run=true', () => importCsv(makeRows(ROWS, 'D'))],
    ['valid rows (import)', '', () => importCsv(makeRows(ROWS, 'I'))],
    ['one cell too many per row', '', ragged],
    ['4 MiB of bare newlines after the header', '', () => Buffer.from(`${header}\n${'\n'.repeat(4 * MB)}`)],
    [
      '400 000-column header',
      '',
      () => Buffer.from(`${header},${Array.from({ length: 400_000 }, (_, i) => `c${i}`).join(',')}\n`),
    ],
    [
      '200 000 unnamed columns, 100 000 short rows',
      '',
      () => {
        const rows = importCsv(makeRows(100_000, 'U'))
          .toString('utf8')
          .replace(/^.*\r\n/, '')
        return Buffer.from(`${header}${','.repeat(200_000)},备注\r\n${rows}`)
      },
    ],
    [
      '600 KB of U+FFFD, then an invalid byte',
      '',
      () => Buffer.concat([Buffer.from('\ufffd'.repeat(200_000)), Buffer.from([0xff])]),
    ],
    [
      '60 MiB of newlines, then an invalid byte',
      '',
      () => Buffer.concat([Buffer.alloc(60 * MB, '\n'), Buffer.from([0xff])]),
    ],
  ]
}

async function startApp(): Promise<string> {
  const base = process.env.DATABASE_URL
  let env: Record<string, string>
  if (base) {
    const db = await createBenchDatabase(base)
    env = { DATABASE_URL: db.url }
    log(`PostgreSQL: ${db.name}`)
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'liveness-'))
    onCleanup(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }))
    env = { DATA_DIR: dir }
    log(`PGlite: ${dir}`)
  }
  const config = loadConfig({ ...env, ADMIN_API_KEY: ADMIN, RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn' })
  const app = await buildApp({ config })
  onCleanup('app', () => app.close())
  return app.listen({ port: 0, host: '127.0.0.1' })
}

async function measure(address: string, orgId: string, name: string, query: string, body: Buffer) {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  const poller = await pollHealthz(address)
  delay.enable()
  const t0 = performance.now()
  const res = await httpRequest(new Agent(), `${address}/v1/purchases/import?org_id=${orgId}${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/csv' },
    body,
    timeoutMs: 600_000,
  })
  const text = res.body
  const seconds = (performance.now() - t0) / 1000
  delay.disable()
  const waits = await poller.stop()
  const ms = (ns: number) => (ns / 1e6).toFixed(0).padStart(6)
  console.log(
    `${name.padEnd(44)} ${(body.length / MB).toFixed(1).padStart(5)} MiB  ${res.status}  ${seconds.toFixed(1).padStart(5)} s` +
      `  loop delay max ${ms(delay.max)} ms, p99 ${ms(delay.percentile(99))} ms` +
      `  /healthz longest ${Math.round(waits.longestMs).toString().padStart(6)} ms (${waits.answers} answers` +
      `${waits.failures.length ? `, ${waits.failures.length} failed` : ''})  body ${text.length} chars`,
  )
}

async function main() {
  installSignalHandlers()
  const address = await startApp()
  const org = await postJson<{ id: string }>(
    address,
    '/v1/orgs',
    { name: 'liveness', kind: 'trade_union' },
    ADMIN,
  )
  for (const [name, query, make] of cases()) {
    if (ONLY && !ONLY.some((o) => name.startsWith(o))) continue
    await measure(address, org.id, name, query, make())
  }
}

runMain('bench:import-liveness', main)
