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
import { load, startSampling } from './measure.js'
import { cleanupAll, installSignalHandlers, onCleanup, startServer } from './procs.js'
import { createBenchDatabase, genRow, purchaseJson, rng, seedPurchases } from './seed.js'

const RECORDS = Number(process.env.TOTALS_RECORDS ?? 1_000_000)
const ROUNDS = Number(process.env.TOTALS_ROUNDS ?? 4)
const READ_SECONDS = Number(process.env.TOTALS_SECONDS ?? 5)
const POST_SECONDS = Number(process.env.TOTALS_POST_SECONDS ?? 8)
const ROLLUPS = ['purchase_year_totals', 'canteen_year_totals'] as const

const log = (msg: string) =>
  console.log(`[totals-after-writes ${new Date().toISOString().slice(11, 19)}] ${msg}`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

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

async function main() {
  installSignalHandlers()
  const tag = randomBytes(3).toString('hex')
  const db = await createBenchDatabase(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test')
  log(`database ${db.name} (dropped at the end); ${RECORDS} records, ${ROUNDS} write rounds`)
  const admin = `bench-admin-${randomBytes(16).toString('hex')}`
  const server = await startServer({ databaseUrl: db.url, adminSecret: admin })
  const url = server.url

  const api = async <T>(path: string, body: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`POST ${path} → ${res.status}: ${text.slice(0, 300)}`)
    return JSON.parse(text) as T
  }
  const seedOrg = await api<{ id: string }>('/v1/orgs', { name: `seed-${tag}`, kind: 'enterprise' })
  const seedKey = await api<{ id: string }>('/v1/api-keys', {
    name: 'seeding',
    role: 'reporter',
    org_id: seedOrg.id,
  })
  const reporterOrg = await api<{ id: string }>('/v1/orgs', { name: `reporter-${tag}`, kind: 'trade_union' })
  const reporter = await api<{ secret: string }>('/v1/api-keys', {
    name: 'reporter',
    role: 'reporter',
    org_id: reporterOrg.id,
  })
  const finance = await api<{ secret: string }>('/v1/api-keys', { name: 'finance', role: 'finance' })
  const t0 = Date.now()
  await seedPurchases(db.url, { from: 0, count: RECORDS, orgIds: [seedOrg.id], keyId: seedKey.id, tag })
  log(`seeded ${RECORDS} records by COPY in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

  const probe = new pg.Client({ connectionString: db.url })
  await probe.connect()
  onCleanup('probe connection', () => probe.end())

  const measureTotals = async (label: string) => {
    const before = await rollupStats(probe)
    const sampler = await startSampling({ pid: server.pid, client: probe, database: db.name })
    const l = await load({
      url: `${url}/v1/totals?year=2024`,
      connections: 1,
      duration: READ_SECONDS,
      headers: { authorization: `Bearer ${finance.secret}` },
    })
    const proc = await sampler.stop()
    await sleep(700) // PostgreSQL reports table statistics every 500 ms
    const after = await rollupStats(probe)
    const perRequest = (cores: number) => ((cores / l.rps) * 1000).toFixed(2)
    const rollups = ROLLUPS.map((r) => {
      const b = after[r]!
      const buffers = ((b.buffers - before[r]!.buffers) / l.requests).toFixed(1)
      return `${r}: ${buffers} buffers/req, ${b.live} live ${b.dead} dead in ${b.pages} pages`
    })
    log(
      `${label.padEnd(12)} totals p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)} ms (${Math.round(l.rps)} req/s` +
        `${l.non2xx ? `, ${l.non2xx} NON-2XX` : ''}); CPU per request: server ${perRequest(proc.cpuCores!)} ms, ` +
        `PostgreSQL ${perRequest(proc.pgCpuCores)} ms; ${rollups.join('; ')}`,
    )
  }

  // Warm-up (JIT, the pool's connections, prepared statements), not measured: with 2 s at 1 connection the
  // first measurement still cost the server 1.0 ms of CPU per request against 0.65 ms in the later ones.
  await load({
    url: `${url}/v1/totals?year=2024`,
    connections: 4,
    duration: 5,
    headers: { authorization: `Bearer ${finance.secret}` },
  })

  const rand = rng(7)
  let seq = 0
  let written = 0
  for (let round = 0; round < ROUNDS; round++) {
    await measureTotals(round === 0 ? 'seeded' : `after ${written}`)
    const l = await load({
      url: `${url}/v1/purchases`,
      method: 'POST',
      connections: 50,
      duration: POST_SECONDS,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${reporter.secret}` },
      setupRequest: (req) => {
        const i = seq++
        return {
          ...req,
          body: purchaseJson(genRow(rand, `W${tag}-${i}`)),
          headers: { ...req.headers, 'idempotency-key': `w-${tag}-${i}` },
        }
      },
    })
    written += l.requests - l.non2xx
    log(`write round ${round + 1}: POST /v1/purchases ${Math.round(l.rps)} req/s, ${l.non2xx} non-2xx`)
    await sleep(1_000)
  }
  await measureTotals(`after ${written}`)
  await probe.query(`vacuum ${ROLLUPS.join(', ')}`)
  await measureTotals('vacuumed')
}

main()
  .then(
    () => cleanupAll(),
    async (err) => {
      console.error(`totals-after-writes failed: ${(err as Error).stack ?? err}`)
      await cleanupAll()
      process.exitCode = 1
    },
  )
  .then(() => process.exit())
