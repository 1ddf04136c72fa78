/**
 * `npm run bench:import` (DATABASE_URL required): the CSV import next to raw COPY, and the server's memory
 * during a large export (issue 5).
 *
 * 1. Creates a fresh database on DATABASE_URL's server (dropped at the end), runs the app in-process
 *    (buildApp + listen on an ephemeral port) and, interleaved over ROUNDS rounds (order swapped every other
 *    round so drift cancels), loads the same IMPORT_ROWS rows by raw `COPY purchases FROM STDIN` and by
 *    `POST /v1/purchases/import`; prints rows/s for each and the ratio (goal: import ≥ 0.5 × COPY).
 * 2. Seeds EXPORT_ROWS rows by COPY, starts the server as a child process — as production runs it
 *    (`npm run build`, then `node --enable-source-maps dist/server.mjs`) and/or under tsx (`node --import tsx
 *    src/server.ts`) — and downloads `GET /v1/purchases/export` (csv, then xlsx) while sampling the child's
 *    VmRSS from /proc every 20 ms; prints the peak (goal: ≤ 200 MB).
 * Writes the figures as JSON to bench-results/import-vs-copy-<timestamp>.json.
 *
 * Env: IMPORT_ROWS (100000), EXPORT_ROWS (1000000), ROUNDS (3; 0 skips part 1), EXPORT_FORMATS (csv,xlsx),
 * SERVERS (bundle; `bundle,tsx` measures both), SERVER_FLAGS (node flags for the export server).
 */
import { randomBytes } from 'node:crypto'
import { cpus, totalmem } from 'node:os'
import pg from 'pg'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { postJson } from '../lib/http.js'
import { withClient } from '../lib/postgres.js'
import {
  buildBundle,
  installSignalHandlers,
  onCleanup,
  runMain,
  serverEnv,
  startChild,
  startNodeFlags,
  statusKb,
} from '../lib/processes.js'
import { fileStamp, writeResultsFile } from '../lib/results.js'
import { copyRows, importCsv, makeRows } from './import-rows.js'
import { median } from './measure.js'
import { createBenchDatabase } from './seed.js'

const BASE_URL = process.env.DATABASE_URL
const IMPORT_ROWS = Number(process.env.IMPORT_ROWS ?? 100_000)
const EXPORT_ROWS = Number(process.env.EXPORT_ROWS ?? 1_000_000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const FORMATS = (process.env.EXPORT_FORMATS ?? 'csv,xlsx').split(',').filter(Boolean)
/** How the export server runs: `bundle` = production (`npm start`: node dist/server.mjs), `tsx` = node --import tsx src/server.ts. */
const SERVERS = (process.env.SERVERS ?? 'bundle').split(',').filter(Boolean)
/** Extra node flags for the export server, e.g. `--max-old-space-size=128`. */
const SERVER_FLAGS = (process.env.SERVER_FLAGS ?? '').split(' ').filter(Boolean)
const ADMIN = `bench-admin-${randomBytes(12).toString('hex')}`
const MB = 1024 * 1024

const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`)

/** What every step works with: the database, a connection to it, and the admin key's id. */
interface Ctx {
  db: { url: string; name: string }
  client: pg.Client
  keyId: string
}

type ImportFigures = { copy_median: number; import_median: number; ratio: number; met: boolean }

/** The run's header: the machine, PostgreSQL's version and the sizes. */
async function describeRun(): Promise<Record<string, unknown>> {
  return {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memory_mb: Math.round(totalmem() / MB) },
    node: process.version,
    postgres: await withClient(
      BASE_URL!,
      async (c) => (await c.query('show server_version')).rows[0].server_version,
    ),
    import_rows: IMPORT_ROWS,
    export_rows: EXPORT_ROWS,
    rounds: ROUNDS,
  }
}

/** The app in-process (buildApp + listen on an ephemeral port), the two orgs, and the admin key's id. */
async function startInProcess(db: Ctx['db']) {
  const app = await buildApp({
    config: loadConfig({ DATABASE_URL: db.url, ADMIN_API_KEY: ADMIN, RATE_LIMIT_PER_MINUTE: '0' }),
  })
  onCleanup('in-process app', () => app.close())
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const org = (name: string) =>
    postJson<{ id: string }>(
      address,
      '/v1/orgs',
      { name: `bench ${name} ${db.name}`, kind: 'trade_union' },
      ADMIN,
    )
  const copyOrg = await org('copy')
  const importOrg = await org('import')
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  onCleanup('connection', () => client.end())
  const keyId = (await client.query("select id from api_keys where role = 'admin' limit 1")).rows[0]
    .id as string
  return { app, address, copyOrg, importOrg, ctx: { db, client, keyId } }
}

type Rates = { copy: number[]; import: number[]; bytes: number[] }

async function timedCopy(ctx: Ctx, orgId: string, round: number, rates: Rates) {
  const warmup = round === 0
  const copyData = makeRows(IMPORT_ROWS, `C${round}`)
  const t0 = performance.now()
  await copyRows(ctx.client, copyData, orgId, ctx.keyId)
  const rate = IMPORT_ROWS / ((performance.now() - t0) / 1000)
  if (!warmup) rates.copy.push(rate)
  log(`round ${round}${warmup ? ' (warm-up)' : ''}: COPY   ${Math.round(rate)} rows/s`)
}

async function timedImport(address: string, orgId: string, csv: Buffer, round: number, rates: Rates) {
  const warmup = round === 0
  const t0 = performance.now()
  const res = await fetch(`${address}/v1/purchases/import?org_id=${orgId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/csv' },
    body: new Uint8Array(csv),
  })
  const body = (await res.json()) as { imported?: number }
  if (res.status !== 201 || body.imported !== IMPORT_ROWS) {
    throw new Error(`import failed: ${res.status} ${JSON.stringify(body).slice(0, 500)}`)
  }
  const rate = IMPORT_ROWS / ((performance.now() - t0) / 1000)
  if (!warmup) {
    rates.import.push(rate)
    rates.bytes.push(csv.length)
  }
  log(`round ${round}${warmup ? ' (warm-up)' : ''}: import ${Math.round(rate)} rows/s`)
}

/**
 * 1. import vs COPY, in-process server: a warm-up round, then ROUNDS rounds, order swapped every other round.
 * Answers the connection and key id for part 2 (the app is closed).
 */
async function importVsCopy(db: Ctx['db'], results: Record<string, unknown>): Promise<Ctx> {
  const { app, address, copyOrg, importOrg, ctx } = await startInProcess(db)
  const rates: Rates = { copy: [], import: [], bytes: [] }
  for (let round = 0; ROUNDS > 0 && round <= ROUNDS; round++) {
    const csv = importCsv(makeRows(IMPORT_ROWS, `I${round}`))
    const runCopy = () => timedCopy(ctx, copyOrg.id, round, rates)
    const runImport = () => timedImport(address, importOrg.id, csv, round, rates)
    for (const run of round % 2 === 0 ? [runCopy, runImport] : [runImport, runCopy]) await run()
  }
  await ctx.client.query('vacuum analyze purchases')
  await app.close()
  const copyMedian = median(rates.copy)
  const importMedian = median(rates.import)
  if (ROUNDS > 0)
    results.import = {
      copy_rows_per_s: rates.copy.map(Math.round),
      import_rows_per_s: rates.import.map(Math.round),
      copy_median: Math.round(copyMedian),
      import_median: Math.round(importMedian),
      ratio: Number((importMedian / copyMedian).toFixed(3)),
      csv_mb: Number((median(rates.bytes) / MB).toFixed(1)),
      goal: 'import >= 0.5 x COPY',
      met: importMedian >= 0.5 * copyMedian,
    }
  return ctx
}

/** EXPORT_ROWS rows by COPY for an org of their own; answers the org. */
async function seedExport(ctx: Ctx): Promise<string> {
  const exportOrg = await withClient(ctx.db.url, async (c) => {
    const org = await c.query("insert into orgs (name, kind) values ($1, 'trade_union') returning id", [
      `bench export ${ctx.db.name}`,
    ])
    return org.rows[0].id as string
  })
  log(`seeding ${EXPORT_ROWS} rows by COPY`)
  for (let done = 0, part = 0; done < EXPORT_ROWS; part++) {
    const n = Math.min(200_000, EXPORT_ROWS - done)
    await copyRows(ctx.client, makeRows(n, `E${part}`), exportOrg, ctx.keyId)
    done += n
  }
  await ctx.client.query('vacuum analyze purchases')
  return exportOrg
}

const rssBytes = (pid: number) => (statusKb(pid, 'VmRSS') ?? 0) * 1024

/** Downloads the export, counting bytes (and lines of a csv), while sampling `pid`'s RSS every 20 ms. */
async function download(url: string, format: string, pid: number) {
  let peak = rssBytes(pid)
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid))
  }, 20)
  const t0 = performance.now()
  const res = await fetch(url, { headers: { authorization: `Bearer ${ADMIN}` } })
  if (res.status !== 200 || !res.body) throw new Error(`export ${format}: ${res.status} ${await res.text()}`)
  let bytes = 0
  let newlines = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length
    if (format === 'csv') for (const b of chunk) if (b === 10) newlines++
  }
  const seconds = (performance.now() - t0) / 1000
  clearInterval(timer)
  return { bytes, newlines, seconds, peak }
}

/** 2. One export by a fresh server, so one export's heap does not carry into the next. */
async function measureExport(ctx: Ctx, exportOrg: string, serverKind: string, format: string) {
  const tsx = serverKind === 'tsx'
  const script = tsx ? 'src/server.ts' : 'dist/server.mjs'
  const nodeArgs = [...SERVER_FLAGS, ...(tsx ? [] : startNodeFlags())]
  const server = await startChild({
    name: `export server (${serverKind})`,
    script, // a .ts one runs through tsx
    nodeArgs,
    env: serverEnv({ databaseUrl: ctx.db.url, adminApiKey: ADMIN }),
    cleanEnv: true,
  })
  await server.waitReady('/readyz', 30_000)
  const idle = rssBytes(server.pid)
  const url = `${server.url}/v1/purchases/export?format=${format}&org_id=${exportOrg}`
  const d = await download(url, format, server.pid)
  const hwm = (statusKb(server.pid, 'VmHWM') ?? 0) * 1024
  const peak = Math.max(idle, d.peak, rssBytes(server.pid))
  await server.stop()
  if (format === 'csv' && d.newlines !== EXPORT_ROWS + 1) {
    throw new Error(`csv export had ${d.newlines - 1} rows, expected ${EXPORT_ROWS}`)
  }
  return {
    server: `node ${[...nodeArgs, ...(tsx ? ['--import', 'tsx'] : []), script].join(' ')}`,
    format,
    rows: EXPORT_ROWS,
    mb: Number((d.bytes / MB).toFixed(1)),
    seconds: Number(d.seconds.toFixed(1)),
    rows_per_s: Math.round(EXPORT_ROWS / d.seconds),
    rss_idle_mb: Math.round(idle / MB),
    rss_peak_mb: Math.round(peak / MB),
    vm_hwm_mb: Math.round(hwm / MB),
    goal: 'peak RSS <= 200 MB',
    met: peak <= 200 * MB,
  }
}

async function exportMemory(ctx: Ctx): Promise<Record<string, unknown>[]> {
  const exportOrg = await seedExport(ctx)
  const exports: Record<string, unknown>[] = []
  if (SERVERS.includes('bundle')) buildBundle()
  for (const serverKind of SERVERS) {
    for (const format of FORMATS) {
      const figures = await measureExport(ctx, exportOrg, serverKind, format)
      exports.push(figures)
      log(
        `export ${format} (${figures.server}): ${figures.mb} MB in ${figures.seconds} s, peak RSS ${figures.rss_peak_mb} MB`,
      )
    }
  }
  return exports
}

function printReport(results: Record<string, unknown>, exports: Record<string, unknown>[]) {
  const imp = results.import as ImportFigures | undefined
  const rows: [string, string, string][] = [
    ...(imp
      ? ([
          ['raw COPY (median rows/s)', String(imp.copy_median), ''],
          ['POST /v1/purchases/import (median rows/s)', String(imp.import_median), ''],
          ['import / COPY', imp.ratio.toFixed(2), `goal ≥ 0.50 ${imp.met ? 'met' : 'NOT met'}`],
        ] as [string, string, string][])
      : []),
    ...exports.map(
      (e) =>
        [
          `export ${e.format} ${EXPORT_ROWS} rows, ${e.server}: peak RSS MB`,
          `${e.rss_peak_mb} (idle ${e.rss_idle_mb})`,
          `goal ≤ 200 ${e.met ? 'met' : 'NOT met'}; ${e.seconds} s, ${e.mb} MB`,
        ] as [string, string, string],
    ),
  ]
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)))
  console.log(`\nimport vs COPY, ${IMPORT_ROWS} rows × ${ROUNDS} rounds (PostgreSQL ${results.postgres})`)
  for (const r of rows) console.log(`  ${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2]}`)
}

async function main() {
  if (!BASE_URL) {
    console.error('DATABASE_URL is required (a PostgreSQL server where the bench may create a database)')
    process.exit(2)
  }
  installSignalHandlers()
  const db = await createBenchDatabase(BASE_URL)
  log(`database ${db.name}`)
  const results = await describeRun()
  const ctx = await importVsCopy(db, results)
  const existing = Number((await ctx.client.query('select count(*) from purchases')).rows[0].count)
  const exports = await exportMemory(ctx)
  results.export = exports
  results.note = `${existing} rows from part 1 were in the table; the export filtered on the seeded org`
  printReport(results, exports)
  const file = writeResultsFile(`import-vs-copy-${fileStamp()}.json`, results)
  console.log(`\nwrote ${file}`)
}

runMain('bench', main)
