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
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import copyStreams from 'pg-copy-streams'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { uuidv7 } from '../../src/db/uuidv7.js'
import { median } from './measure.js'
import { freePort, startNodeFlags } from './procs.js'
import { withClient } from './seed.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
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

if (!BASE_URL) {
  console.error('DATABASE_URL is required (a PostgreSQL server where the bench may create a database)')
  process.exit(2)
}

// --- data -------------------------------------------------------------------------------------------

const REGIONS = ['530502', '530521', '530523', '530524', '530623', '530626', '653124']
const CHANNELS = ['wholesale', 'union_welfare', 'enterprise', 'canteen', 'market_sales']
const LABELS = ['大宗批发', '工会福利', '企业采购', '食堂预留', '市场销售']
const SUPPLIERS = [
  '保山市隆阳区咖啡产业开发有限公司',
  '施甸县农特产品贸易有限公司',
  '龙陵县紫皮石斛专业合作社',
  '泽普县骏枣农产品有限公司',
]
const PRODUCTS = ['小粒咖啡 200 箱', '紫皮石斛礼盒', '滇红茶 50 斤', '泽普骏枣']

interface Row {
  channel: number
  fen: bigint
  date: string
  region: string
  supplier: string
  product: string
  voucher: string
}

/** Deterministic rows; `tag` keeps voucher numbers unique across rounds and methods. */
function makeRows(n: number, tag: string): Row[] {
  let s = 12345
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s / 2 ** 32
  }
  return Array.from({ length: n }, (_, i) => {
    const day = 1 + Math.floor(next() * 365)
    const d = new Date(Date.UTC(2024, 0, day))
    return {
      channel: Math.floor(next() * 5),
      fen: BigInt(1 + Math.floor(next() * 100_000_000)),
      date: d.toISOString().slice(0, 10),
      region: REGIONS[Math.floor(next() * REGIONS.length)]!,
      supplier: SUPPLIERS[i % SUPPLIERS.length]!,
      product: PRODUCTS[i % PRODUCTS.length]!,
      voucher: `${tag}-${i}`,
    }
  })
}

const money = (fen: bigint) => `${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`

/** The CSV an agency would upload: Chinese headers and labels, thousands separators. */
function importCsv(rows: Row[]): Buffer {
  const lines = ['渠道,金额（元）,发生日期,地区代码,供应商,产品,凭证号']
  for (const r of rows) {
    const amount = money(r.fen).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
    lines.push(
      `${LABELS[r.channel]},"${amount}",${r.date},${r.region},${r.supplier},${r.product},${r.voucher}`,
    )
  }
  return Buffer.from(`\ufeff${lines.join('\r\n')}\r\n`)
}

const COPY_COLUMNS =
  'id, channel, amount_fen, occurred_on, year, org_id, region_code, supplier, product, voucher_no, created_by'

/** The same records as COPY csv text, with ids made the way the import makes them (UUIDv7). */
function* copyLines(rows: Row[], orgId: string, keyId: string): Generator<string> {
  let chunk = ''
  for (const r of rows) {
    chunk += `${uuidv7()},${CHANNELS[r.channel]},${r.fen},${r.date},${r.date.slice(0, 4)},${orgId},${r.region},${r.supplier},${r.product},${r.voucher},${keyId}\n`
    if (chunk.length > 256 * 1024) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk) yield chunk
}

async function copyRows(client: pg.Client, rows: Row[], orgId: string, keyId: string): Promise<void> {
  const sink = client.query(copyStreams.from(`copy purchases (${COPY_COLUMNS}) from stdin with (format csv)`))
  await pipeline(Readable.from(copyLines(rows, orgId, keyId)), sink)
}

// --- helpers ----------------------------------------------------------------------------------------

function rssOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

// --- main -------------------------------------------------------------------------------------------

async function main() {
  const base = new URL(BASE_URL!)
  const dbName = `${base.pathname.slice(1) || 'postgres'}_bench_import_${randomBytes(4).toString('hex')}`
  const url = new URL(BASE_URL!)
  url.pathname = `/${dbName}`
  await withClient(BASE_URL!, (c) => c.query(`create database "${dbName}"`))
  log(`database ${dbName}`)
  const cleanups: (() => Promise<unknown>)[] = [
    () => withClient(BASE_URL!, (c) => c.query(`drop database if exists "${dbName}" with (force)`)),
  ]
  const results: Record<string, unknown> = {
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
  try {
    // 1. import vs COPY, in-process server --------------------------------------------------------
    const app = await buildApp({
      config: loadConfig({ DATABASE_URL: url.toString(), ADMIN_API_KEY: ADMIN, RATE_LIMIT_PER_MINUTE: '0' }),
    })
    cleanups.unshift(() => app.close())
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    const auth = { authorization: `Bearer ${ADMIN}` }
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${address}${path}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
      return (await res.json()) as { id: string }
    }
    const copyOrg = await post('/v1/orgs', { name: `bench copy ${dbName}`, kind: 'trade_union' })
    const importOrg = await post('/v1/orgs', { name: `bench import ${dbName}`, kind: 'trade_union' })
    const client = new pg.Client({ connectionString: url.toString() })
    await client.connect()
    cleanups.unshift(() => client.end())
    const keyId = (await client.query("select id from api_keys where role = 'admin' limit 1")).rows[0]
      .id as string

    const copyRates: number[] = []
    const importRates: number[] = []
    const importBytes: number[] = []
    for (let round = 0; ROUNDS > 0 && round <= ROUNDS; round++) {
      const warmup = round === 0
      const copyData = makeRows(IMPORT_ROWS, `C${round}`)
      const csv = importCsv(makeRows(IMPORT_ROWS, `I${round}`))
      const runCopy = async () => {
        const t0 = performance.now()
        await copyRows(client, copyData, copyOrg.id, keyId)
        const rate = IMPORT_ROWS / ((performance.now() - t0) / 1000)
        if (!warmup) copyRates.push(rate)
        log(`round ${round}${warmup ? ' (warm-up)' : ''}: COPY   ${Math.round(rate)} rows/s`)
      }
      const runImport = async () => {
        const t0 = performance.now()
        const res = await fetch(`${address}/v1/purchases/import?org_id=${importOrg.id}`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'text/csv' },
          body: new Uint8Array(csv),
        })
        const body = (await res.json()) as { imported?: number }
        if (res.status !== 201 || body.imported !== IMPORT_ROWS) {
          throw new Error(`import failed: ${res.status} ${JSON.stringify(body).slice(0, 500)}`)
        }
        const rate = IMPORT_ROWS / ((performance.now() - t0) / 1000)
        if (!warmup) {
          importRates.push(rate)
          importBytes.push(csv.length)
        }
        log(`round ${round}${warmup ? ' (warm-up)' : ''}: import ${Math.round(rate)} rows/s`)
      }
      if (round % 2 === 0) {
        await runCopy()
        await runImport()
      } else {
        await runImport()
        await runCopy()
      }
    }
    await client.query('vacuum analyze purchases')
    await app.close()

    const copyMedian = median(copyRates)
    const importMedian = median(importRates)
    if (ROUNDS > 0)
      results.import = {
        copy_rows_per_s: copyRates.map(Math.round),
        import_rows_per_s: importRates.map(Math.round),
        copy_median: Math.round(copyMedian),
        import_median: Math.round(importMedian),
        ratio: Number((importMedian / copyMedian).toFixed(3)),
        csv_mb: Number((median(importBytes) / MB).toFixed(1)),
        goal: 'import >= 0.5 x COPY',
        met: importMedian >= 0.5 * copyMedian,
      }

    // 2. export memory, server as a child process -------------------------------------------------
    const existing = Number((await client.query('select count(*) from purchases')).rows[0].count)
    const exportOrg = await withClient(url.toString(), async (c) => {
      const org = await c.query("insert into orgs (name, kind) values ($1, 'trade_union') returning id", [
        `bench export ${dbName}`,
      ])
      return org.rows[0].id as string
    })
    log(`seeding ${EXPORT_ROWS} rows by COPY`)
    for (let done = 0, part = 0; done < EXPORT_ROWS; part++) {
      const n = Math.min(200_000, EXPORT_ROWS - done)
      await copyRows(client, makeRows(n, `E${part}`), exportOrg, keyId)
      done += n
    }
    await client.query('vacuum analyze purchases')

    const exports: Record<string, unknown>[] = []
    if (SERVERS.includes('bundle')) {
      const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
      if (build.status !== 0) throw new Error('npm run build failed')
    }
    // A fresh server per measurement, so one export's heap does not carry into the next.
    for (const serverKind of SERVERS) {
      for (const format of FORMATS) {
        const args = [
          ...SERVER_FLAGS,
          ...(serverKind === 'tsx'
            ? ['--import', 'tsx', 'src/server.ts']
            : [...startNodeFlags(), 'dist/server.mjs']),
        ]
        const port = await freePort()
        const child = spawn(process.execPath, args, {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH,
            DATABASE_URL: url.toString(),
            PORT: String(port),
            HOST: '127.0.0.1',
            ADMIN_API_KEY: ADMIN,
            RATE_LIMIT_PER_MINUTE: '0',
            LOG_LEVEL: 'warn',
          },
          stdio: ['ignore', 'inherit', 'inherit'],
        })
        const stop = () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGTERM')
          })
        cleanups.unshift(stop)
        const server = `http://127.0.0.1:${port}`
        for (let i = 0; ; i++) {
          try {
            if ((await fetch(`${server}/readyz`)).ok) break
          } catch {}
          if (i > 300) throw new Error('server did not start')
          await new Promise((r) => setTimeout(r, 100))
        }
        const before = rssOf(child.pid!)
        let peak = before.rss
        const timer = setInterval(() => {
          try {
            peak = Math.max(peak, rssOf(child.pid!).rss)
          } catch {}
        }, 20)
        const t0 = performance.now()
        const res = await fetch(`${server}/v1/purchases/export?format=${format}&org_id=${exportOrg}`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        })
        if (res.status !== 200 || !res.body)
          throw new Error(`export ${format}: ${res.status} ${await res.text()}`)
        let bytes = 0
        let newlines = 0
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          bytes += chunk.length
          if (format === 'csv') for (const b of chunk) if (b === 10) newlines++
        }
        const seconds = (performance.now() - t0) / 1000
        clearInterval(timer)
        const after = rssOf(child.pid!)
        peak = Math.max(peak, after.rss)
        await stop()
        cleanups.splice(cleanups.indexOf(stop), 1)
        if (format === 'csv' && newlines !== EXPORT_ROWS + 1) {
          throw new Error(`csv export had ${newlines - 1} rows, expected ${EXPORT_ROWS}`)
        }
        const figures = {
          server: `node ${args.join(' ')}`,
          format,
          rows: EXPORT_ROWS,
          mb: Number((bytes / MB).toFixed(1)),
          seconds: Number(seconds.toFixed(1)),
          rows_per_s: Math.round(EXPORT_ROWS / seconds),
          rss_idle_mb: Math.round(before.rss / MB),
          rss_peak_mb: Math.round(peak / MB),
          vm_hwm_mb: Math.round(after.hwm / MB),
          goal: 'peak RSS <= 200 MB',
          met: peak <= 200 * MB,
        }
        exports.push(figures)
        log(
          `export ${format} (${figures.server}): ${figures.mb} MB in ${figures.seconds} s, peak RSS ${figures.rss_peak_mb} MB`,
        )
      }
    }
    results.export = exports
    results.note = `${existing} rows from part 1 were in the table; the export filtered on the seeded org`

    // --- report -------------------------------------------------------------------------------------
    const imp = results.import as
      | { copy_median: number; import_median: number; ratio: number; met: boolean }
      | undefined
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
    mkdirSync(`${ROOT}bench-results`, { recursive: true })
    const file = `${ROOT}bench-results/import-vs-copy-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
    console.log(`\nwrote ${file}`)
  } finally {
    for (const cleanup of cleanups) await cleanup().catch((err) => log(`cleanup: ${(err as Error).message}`))
  }
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).stack ?? err}`)
  process.exit(1)
})
