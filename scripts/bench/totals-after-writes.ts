/**
 * npm run bench:totals-after-writes — does `GET /v1/totals` get dearer as writes pile up on the rollups?
 *
 * The main bench judges the totals read at 10 000 and 1 000 000 records seeded by COPY. This one follows the
 * same read while the service itself writes: it seeds TOTALS_RECORDS records, warms the server up, then
 * alternates a totals measurement (1 connection, TOTALS_SECONDS) with a burst of `POST /v1/purchases`
 * (50 connections, TOTALS_POST_SECONDS: group-committed single creates, each statement upserting the
 * rollups), TOTALS_ROUNDS times, then measures once more, VACUUMs the year rollups and measures again. Per
 * totals measurement it prints p50/p99, the server's and PostgreSQL's CPU per request, the buffers each
 * request read from the two year rollups, and their live and dead row versions and pages — so growth, if
 * any, shows where it comes from. Timing is the machine's: compare rows within one run.
 *
 * Options (env): DATABASE_URL (server; default postgres://postgres@127.0.0.1:5432/test; the script creates and
 * drops its own database), TOTALS_RECORDS (1000000), TOTALS_ROUNDS (4), TOTALS_SECONDS (5),
 * TOTALS_POST_SECONDS (8).
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import {
  type Child,
  installSignalHandlers,
  onCleanup,
  runMain,
  sleep,
  startServer,
} from '../lib/processes.js'
import { load, startSampling } from './measure.js'
import { postBodies } from './measurements.js'
import { createBenchDatabase, seedPurchases } from './seed.js'
import { type Actors, createActors } from './setup.js'

const RECORDS = Number(process.env.TOTALS_RECORDS ?? 1_000_000)
const ROUNDS = Number(process.env.TOTALS_ROUNDS ?? 4)
const READ_SECONDS = Number(process.env.TOTALS_SECONDS ?? 5)
const POST_SECONDS = Number(process.env.TOTALS_POST_SECONDS ?? 8)
const ROLLUPS = ['purchase_year_totals', 'canteen_year_totals'] as const

const log = (msg: string) =>
  console.log(`[totals-after-writes ${new Date().toISOString().slice(11, 19)}] ${msg}`)

interface RollupStats {
  live: number
  dead: number
  pages: number
  /** Buffers read so far (heap + index), hits or not. */
  buffers: number
}

async function rollupStats(client: pg.Client): Promise<Record<string, RollupStats>> {
  // A fresh statistics snapshot: inside one transaction PostgreSQL would keep serving the first one.
  await client.query('select pg_stat_clear_snapshot()')
  const { rows } = await client.query<{ relname: string } & Record<string, string>>(
    `select t.relname, t.n_live_tup as live, t.n_dead_tup as dead, pg_relation_size(t.relid) / 8192 as pages,
            coalesce(s.heap_blks_hit, 0) + coalesce(s.heap_blks_read, 0)
              + coalesce(s.idx_blks_hit, 0) + coalesce(s.idx_blks_read, 0) as buffers
       from pg_stat_user_tables t join pg_statio_user_tables s using (relid)
      where t.relname = any($1)`,
    [ROLLUPS],
  )
  return Object.fromEntries(
    rows.map((r) => [
      r.relname,
      { live: Number(r.live), dead: Number(r.dead), pages: Number(r.pages), buffers: Number(r.buffers) },
    ]),
  )
}

/** What every step works with. */
interface Run {
  tag: string
  db: { url: string; name: string }
  server: Child
  actors: Actors
  probe: pg.Client
}

async function prepare(): Promise<Run> {
  const tag = randomBytes(3).toString('hex')
  const db = await createBenchDatabase(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test')
  log(`database ${db.name} (dropped at the end); ${RECORDS} records, ${ROUNDS} write rounds`)
  const admin = `bench-admin-${randomBytes(16).toString('hex')}`
  const server = await startServer({ databaseUrl: db.url, adminSecret: admin })
  const actors = await createActors(server.url, admin, tag, 1)
  const t0 = Date.now()
  const keyId = actors.seedKey.id
  await seedPurchases(db.url, { from: 0, count: RECORDS, orgIds: actors.seedOrgIds, keyId, tag })
  log(`seeded ${RECORDS} records by COPY in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  const probe = new pg.Client({ connectionString: db.url })
  await probe.connect()
  onCleanup('probe connection', () => probe.end())
  return { tag, db, server, actors, probe }
}

const readTotals = (r: Run, connections: number, duration: number) =>
  load({
    url: `${r.server.url}/v1/totals?year=2024`,
    connections,
    duration,
    headers: { authorization: `Bearer ${r.actors.finance.secret}` },
  })

/** One totals measurement: latency, CPU per request, and what each request read from the rollups. */
async function measureTotals(r: Run, label: string): Promise<void> {
  const before = await rollupStats(r.probe)
  const sampler = await startSampling({ pid: r.server.pid, client: r.probe, database: r.db.name })
  const l = await readTotals(r, 1, READ_SECONDS)
  const proc = await sampler.stop()
  await sleep(700) // PostgreSQL reports table statistics every 500 ms
  const after = await rollupStats(r.probe)
  const perRequest = (cores: number) => ((cores / l.rps) * 1000).toFixed(2)
  const rollups = ROLLUPS.map((t) => {
    const b = after[t]!
    const buffers = ((b.buffers - before[t]!.buffers) / l.requests).toFixed(1)
    return `${t}: ${buffers} buffers/req, ${b.live} live ${b.dead} dead in ${b.pages} pages`
  })
  log(
    `${label.padEnd(12)} totals p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)} ms (${Math.round(l.rps)} req/s` +
      `${l.non2xx ? `, ${l.non2xx} NON-2XX` : ''}); CPU per request: server ${perRequest(proc.cpuCores!)} ms, ` +
      `PostgreSQL ${perRequest(proc.pgCpuCores)} ms; ${rollups.join('; ')}`,
  )
}

/** A burst of group-committed single creates; answers how many were written. */
async function writeBurst(
  r: Run,
  next: () => { i: number; body: string },
): Promise<{ rps: number; written: number; non2xx: number }> {
  const l = await load({
    url: `${r.server.url}/v1/purchases`,
    method: 'POST',
    connections: 50,
    duration: POST_SECONDS,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${r.actors.reporter.secret}` },
    setupRequest: (req) => {
      const { i, body } = next()
      return { ...req, body, headers: { ...req.headers, 'idempotency-key': `w-${r.tag}-${i}` } }
    },
  })
  return { rps: l.rps, written: l.requests - l.non2xx, non2xx: l.non2xx }
}

async function main() {
  installSignalHandlers()
  const r = await prepare()
  // Warm-up (JIT, the pool's connections, prepared statements), not measured: with 2 s at 1 connection the
  // first measurement still cost the server 1.0 ms of CPU per request against 0.65 ms in the later ones.
  await readTotals(r, 4, 5)
  const postBody = postBodies(r.tag, 7)
  const next = () => postBody('W')
  let written = 0
  for (let round = 0; round < ROUNDS; round++) {
    await measureTotals(r, round === 0 ? 'seeded' : `after ${written}`)
    const burst = await writeBurst(r, next)
    written += burst.written
    log(
      `write round ${round + 1}: POST /v1/purchases ${Math.round(burst.rps)} req/s, ${burst.non2xx} non-2xx`,
    )
    await sleep(1_000)
  }
  await measureTotals(r, `after ${written}`)
  await r.probe.query(`vacuum ${ROLLUPS.join(', ')}`)
  await measureTotals(r, 'vacuumed')
}

runMain('totals-after-writes', main)
