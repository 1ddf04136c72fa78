/**
 * `npm run bench`: the service measured against this machine's own limits (issue 6). It creates a fresh
 * PostgreSQL database, starts the server and two anchors as child processes, seeds purchases by COPY, and
 * runs every measurement in interleaved rounds (order reversed every other round) so machine drift cancels;
 * it prints medians, ratios and the goals, and writes the raw figures to bench-results/.
 * Everything it starts or creates is stopped/dropped at the end, on failure and on Ctrl-C.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { load, rssMb, startSampling } from './measure.js'
import { type Group, parseOptions } from './options.js'
import {
  type Child,
  cleanupAll,
  freePort,
  installSignalHandlers,
  onCleanup,
  ROOT,
  startChild,
  startServer,
  waitReady,
} from './procs.js'
import { topSelfTime } from './profile.js'
import {
  type Goal,
  pairedRatio,
  printTable,
  type RowsResult,
  recordsLabel,
  type Sample,
  type Series,
  summarise,
} from './report.js'
import {
  copyIntoPurchases,
  createBenchDatabase,
  genRow,
  importData,
  purchaseJson,
  rng,
  seedPurchases,
  withClient,
} from './seed.js'

const opts = parseOptions(process.argv.slice(2), process.env)
const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Measurement {
  id: string
  label: string
  group: Group
  /** The process whose RSS and CPU are sampled (none for the raw COPY). */
  target?: () => Child
  connections?: number
  /** Sample the bench database's sessions' wait events while this runs. */
  waits?: boolean
  run: (round: number, warmup: boolean) => Promise<{ load?: Sample['load']; rows?: RowsResult }>
}

async function main() {
  installSignalHandlers()
  const tag = randomBytes(3).toString('hex')
  const startedAt = new Date()
  log(
    `records ${opts.records} (small phase ${opts.smallRecords}), ${opts.duration} s per measurement, ` +
      `${opts.connections} connections (reads also at ${opts.lightConnections}), ${opts.rounds} rounds, ` +
      `import ${opts.importRows} rows, groups ${[...opts.only].join(',')}`,
  )

  const db = await createBenchDatabase(opts.databaseUrl)
  log(`database ${db.name} (dropped at the end)`)
  for (const d of db.stale) log(`dropped ${d}, left behind by a bench that was killed`)

  const adminSecret = `bench-admin-${randomBytes(16).toString('hex')}`
  const resultsDir = join(ROOT, 'bench-results')
  mkdirSync(resultsDir, { recursive: true })
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
  const profileDir = join(resultsDir, `prof-${stamp}`)

  const ours = await startServer({
    databaseUrl: db.url,
    adminSecret,
    nodeArgs: opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  })
  const oursUrl = ours.url
  const hello = await startChild({
    name: 'anchor-hello',
    script: 'scripts/bench/anchors.ts',
    args: ['hello'],
    env: {},
    port: await freePort(),
  })
  const anchorPost = await startChild({
    name: 'anchor-post',
    script: 'scripts/bench/anchors.ts',
    args: ['post'],
    env: { DATABASE_URL: db.url },
    port: await freePort(),
  })
  await waitReady(hello, `http://127.0.0.1:${hello.port}/healthz`)
  await waitReady(anchorPost, `http://127.0.0.1:${anchorPost.port}/healthz`)
  log(
    `server pid ${ours.pid} :${ours.port}, anchor-hello pid ${hello.pid}, anchor-post pid ${anchorPost.pid}`,
  )
  await sleep(1_000)
  const idleRssMb = {
    server: rssMb(ours.pid),
    anchor_hello: rssMb(hello.pid),
    anchor_post: rssMb(anchorPost.pid),
  }
  log(
    `idle RSS after start: server ${idleRssMb.server.toFixed(0)} MB, ` +
      `anchors ${idleRssMb.anchor_hello.toFixed(0)} / ${idleRssMb.anchor_post.toFixed(0)} MB`,
  )

  // Orgs and keys through the API, as a client would get them.
  const api = async <T>(method: string, path: string, body: unknown, secret = adminSecret): Promise<T> => {
    const res = await fetch(`${oursUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`)
    return JSON.parse(text) as T
  }
  const seedOrgIds: string[] = []
  for (let i = 0; i < opts.seedOrgs; i++) {
    const org = await api<{ id: string }>('POST', '/v1/orgs', {
      name: `bench-seed-${tag}-${i}`,
      kind: 'enterprise',
    })
    seedOrgIds.push(org.id)
  }
  const seedKey = await api<{ id: string }>('POST', '/v1/api-keys', {
    name: 'bench seeding',
    role: 'reporter',
    org_id: seedOrgIds[0],
  })
  const reporterOrg = await api<{ id: string }>('POST', '/v1/orgs', {
    name: `bench-reporter-${tag}`,
    kind: 'trade_union',
  })
  const reporter = await api<{ id: string; secret: string }>('POST', '/v1/api-keys', {
    name: 'bench reporter',
    role: 'reporter',
    org_id: reporterOrg.id,
  })
  const finance = await api<{ secret: string }>('POST', '/v1/api-keys', {
    name: 'bench finance',
    role: 'finance',
  })

  // A connection for wait-event sampling and row counts, outside the server's pool.
  const probe = new pg.Client({ connectionString: db.url })
  await probe.connect()
  onCleanup('probe connection', () => probe.end())
  const countRecords = async () =>
    Number((await probe.query<{ n: string }>('select count(*) as n from purchases')).rows[0]!.n)

  // ---- measurements -------------------------------------------------------------------------------------
  const rand = rng(42)
  let seq = 0
  const postBody = (prefix: string) => {
    const i = seq++
    const row = genRow(rand, `${prefix}${tag}-${i}`)
    return { i, body: purchaseJson(row) }
  }
  const readAuth = { authorization: `Bearer ${finance.secret}` }
  const reads: { id: string; label: string; path: string }[] = [
    { id: 'totals', label: 'GET /v1/totals?year=2024', path: '/v1/totals?year=2024' },
    {
      id: 'breakdown',
      label: 'GET /v1/totals/breakdown?by=region',
      path: '/v1/totals/breakdown?year=2024&by=region',
    },
    {
      id: 'list',
      label: 'GET /v1/purchases (filtered page)',
      path: '/v1/purchases?year=2024&channel=wholesale&region_code=530502&limit=50',
    },
  ]
  const duration = (warmup: boolean) => (warmup ? Math.min(2, opts.duration) : opts.duration)

  const unavailable = new Map<string, string>()
  const probeStatus = async (id: string, path: string, init: RequestInit, expect: number[]) => {
    const res = await fetch(`${oursUrl}${path}`, init)
    const text = await res.text()
    if (!expect.includes(res.status))
      unavailable.set(id, `${res.status} ${text.slice(0, 120).replace(/\s+/g, ' ')}`)
  }
  for (const r of reads) await probeStatus(r.id, r.path, { headers: readAuth }, [200])
  {
    const { csv } = importData(10, `probe${tag}`, reporterOrg.id, reporter.id)
    await probeStatus(
      'import',
      '/v1/purchases/import?dry_run=true',
      {
        method: 'POST',
        headers: { authorization: `Bearer ${reporter.secret}`, 'content-type': 'text/csv; charset=utf-8' },
        body: csv,
      },
      [200],
    )
  }
  {
    const { body } = postBody('X')
    await probeStatus(
      'post',
      '/v1/purchases',
      {
        method: 'POST',
        headers: { authorization: `Bearer ${reporter.secret}`, 'content-type': 'application/json' },
        body,
      },
      [201],
    )
    if (unavailable.has('post'))
      throw new Error(`POST /v1/purchases does not work: ${unavailable.get('post')}`)
  }
  for (const [id, why] of unavailable) log(`${id}: unavailable (${why}); skipped`)

  const helloAnchor = (id: string, group: Measurement['group'], connections: number): Measurement => ({
    id,
    label: 'anchor: Fastify hello GET',
    group,
    target: () => hello,
    connections,
    run: async (_r, warmup) => ({
      load: await load({ url: `http://127.0.0.1:${hello.port}/`, connections, duration: duration(warmup) }),
    }),
  })
  const allMeasurements: Measurement[] = [
    helloAnchor('anchor-hello', 'hello', opts.connections),
    {
      id: 'anchor-post',
      label: 'anchor: POST validate+INSERT',
      group: 'post',
      target: () => anchorPost,
      connections: opts.connections,
      waits: true,
      run: async (_r, warmup) => ({
        load: await load({
          url: `http://127.0.0.1:${anchorPost.port}/`,
          method: 'POST',
          connections: opts.connections,
          duration: duration(warmup),
          headers: { 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, body: postBody('A').body }),
        }),
      }),
    },
    {
      id: 'ours-post',
      label: 'ours: POST /v1/purchases',
      group: 'post',
      target: () => ours,
      connections: opts.connections,
      waits: true,
      run: async (_r, warmup) => ({
        load: await load({
          url: `${oursUrl}/v1/purchases`,
          method: 'POST',
          connections: opts.connections,
          duration: duration(warmup),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${reporter.secret}` },
          setupRequest: (req) => {
            const { i, body } = postBody('P')
            return { ...req, body, headers: { ...req.headers, 'idempotency-key': `bench-${tag}-${i}` } }
          },
        }),
      }),
    },
    ...reads.flatMap((r) =>
      [...new Set([opts.lightConnections, opts.connections])].map(
        (c): Measurement => ({
          id: `${r.id}-c${c}`,
          label: r.label,
          group: 'reads',
          target: () => ours,
          connections: c,
          waits: true,
          run: async (_round, warmup) => {
            if (unavailable.has(r.id)) throw new Skip(unavailable.get(r.id)!)
            return {
              load: await load({
                url: `${oursUrl}${r.path}`,
                connections: c,
                duration: duration(warmup),
                headers: readAuth,
              }),
            }
          },
        }),
      ),
    ),
    // The machine's own latency floor for the read goals: the same client, connections and phase, no work.
    helloAnchor(`anchor-hello-c${opts.lightConnections}`, 'reads', opts.lightConnections),
    {
      id: 'import',
      label: 'ours: POST /v1/purchases/import (CSV)',
      group: 'import',
      target: () => ours,
      waits: true,
      run: async (round, warmup) => {
        if (unavailable.has('import')) throw new Skip(unavailable.get('import')!)
        const rows = warmup ? 1_000 : opts.importRows
        const { csv } = importData(rows, `${tag}r${round}`, reporterOrg.id, reporter.id)
        const t0 = process.hrtime.bigint()
        const res = await fetch(`${oursUrl}/v1/purchases/import${warmup ? '?dry_run=true' : ''}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${reporter.secret}`,
            'content-type': 'text/csv; charset=utf-8',
            'idempotency-key': `bench-import-${tag}-${round}-${warmup}`,
          },
          body: csv,
          signal: AbortSignal.timeout(600_000),
        })
        const text = await res.text()
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9
        if (res.status !== (warmup ? 200 : 201)) {
          throw new Error(`import → ${res.status}: ${text.slice(0, 300)}`)
        }
        return { rows: { rows, seconds, rowsPerSec: rows / seconds } }
      },
    },
    {
      id: 'copy',
      label: 'raw COPY of the same rows',
      group: 'import',
      run: async (round, warmup) => {
        if (unavailable.has('import')) throw new Skip(unavailable.get('import')!)
        if (warmup) return {}
        const { copyText } = importData(opts.importRows, `${tag}r${round}`, reporterOrg.id, reporter.id)
        return withClient(db.url, async (client) => {
          const t0 = process.hrtime.bigint()
          await copyIntoPurchases(client, [copyText])
          const seconds = Number(process.hrtime.bigint() - t0) / 1e9
          return { rows: { rows: opts.importRows, seconds, rowsPerSec: opts.importRows / seconds } }
        })
      },
    },
  ]
  const measurements = allMeasurements.filter((m) => opts.only.has(m.group))

  /**
   * Waits until no session of the bench database is active (three samples in a row), so requests the server
   * still had queued when a load run stopped do not spill into the next measurement.
   */
  const settle = async (maxMs = 180_000) => {
    const deadline = Date.now() + maxMs
    let quiet = 0
    while (quiet < 3 && Date.now() < deadline) {
      const { rows } = await probe.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
          where datname = $1 and state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'`,
        [db.name],
      )
      quiet = rows[0]!.n === 0 ? quiet + 1 : 0
      await sleep(200)
    }
    if (quiet < 3) log(`  warning: the database was still busy after ${maxMs / 1000} s`)
  }

  const series: Series[] = []
  const runPhase = async (phase: 'small' | 'large', list: Measurement[]) => {
    const records = await countRecords()
    log(`phase ${phase}: ${records} records; warm-up`)
    const phaseSeries = list.map(
      (m): Series => ({
        id: m.id,
        label: m.label,
        phase,
        records,
        connections: m.connections,
        samples: [],
      }),
    )
    series.push(...phaseSeries)
    for (const m of list) {
      await settle()
      try {
        await m.run(-1, true)
      } catch (err) {
        if (!(err instanceof Skip)) log(`  warm-up ${m.id} failed: ${(err as Error).message}`)
      }
    }
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? list : [...list].reverse()
      for (const m of order) {
        const s = phaseSeries[list.indexOf(m)]!
        if (s.skipped) continue
        await settle()
        const sampler = await startSampling({
          pid: m.target?.().pid,
          client: probe,
          database: db.name,
          waits: m.waits,
        })
        let out: Awaited<ReturnType<Measurement['run']>>
        try {
          out = await m.run(round, false)
        } catch (err) {
          const proc = await sampler.stop()
          if (err instanceof Skip) {
            s.skipped = err.message
            continue
          }
          // One failed measurement (e.g. a 503 under overload) is a figure too; the run goes on.
          s.samples.push({ round, failed: (err as Error).message, proc })
          log(`  r${round + 1} ${m.id.padEnd(14)} FAILED: ${(err as Error).message}`)
          continue
        }
        const proc = await sampler.stop()
        s.samples.push({ round, ...out, proc })
        const l = out.load
        log(
          `  r${round + 1} ${m.id.padEnd(14)} ` +
            (l
              ? `${Math.round(l.rps)} req/s  p50 ${l.p50.toFixed(2)}  p99 ${l.p99.toFixed(2)} ms` +
                (l.non2xx || l.errors
                  ? `  NON-2XX ${l.non2xx} ${JSON.stringify(l.statusCodes)} err ${l.errors}`
                  : '')
              : `${Math.round(out.rows!.rowsPerSec)} rows/s (${out.rows!.seconds.toFixed(2)} s)`) +
            (proc.rssMaxMb === null ? '' : `  rss ${proc.rssMaxMb.toFixed(0)} MB`),
        )
      }
    }
  }

  // ---- phases -------------------------------------------------------------------------------------------
  const readMeasurements = measurements.filter((m) => m.group === 'reads')
  const seedTag = tag
  let seeded = 0
  const seedTo = async (target: number) => {
    const t0 = Date.now()
    await seedPurchases(
      db.url,
      { from: seeded, count: target - seeded, orgIds: seedOrgIds, keyId: seedKey.id, tag: seedTag },
      (done) => log(`  seeded ${seeded + done} / ${target}`),
    )
    const s = (Date.now() - t0) / 1000
    log(
      `seeded ${target - seeded} records by COPY in ${s.toFixed(1)} s (${Math.round((target - seeded) / s)} rows/s)`,
    )
    seeded = target
  }

  const seedRss = await startSampling({ pid: ours.pid, client: probe, database: db.name })
  const twoPhases = opts.records > opts.smallRecords && readMeasurements.length > 0
  if (twoPhases) {
    await seedTo(opts.smallRecords)
    await runPhase('small', readMeasurements)
    await seedTo(opts.records)
  } else {
    await seedTo(opts.records)
  }
  const seedFigures = await seedRss.stop()
  await runPhase('large', measurements)
  const finalRecords = await countRecords()

  // ---- summary ------------------------------------------------------------------------------------------
  const find = (id: string, phase: 'small' | 'large') =>
    series.find((s) => s.id === id && s.phase === phase && s.samples.length > 0)
  const light = opts.lightConnections
  const ratioOf = (a?: number, b?: number) =>
    a !== undefined && b !== undefined && b > 0 ? a / b : Number.NaN
  const postRatio = pairedRatio(find('ours-post', 'large'), find('anchor-post', 'large'), (s) => s.load?.rps)
  const helloRatio = pairedRatio(
    find('ours-post', 'large'),
    find('anchor-hello', 'large'),
    (s) => s.load?.rps,
  )
  const importRatio = pairedRatio(find('import', 'large'), find('copy', 'large'), (s) => s.rows?.rowsPerSec)
  const readRatio = (id: string) =>
    ratioOf(
      summarise(find(`${id}-c${light}`, 'large') ?? emptySeries)?.p50,
      summarise(find(`${id}-c${light}`, 'small') ?? emptySeries)?.p50,
    )
  const totalsAt = (phase: 'small' | 'large') => summarise(find(`totals-c${light}`, phase) ?? emptySeries)
  const helloAt = (phase: 'small' | 'large') =>
    summarise(find(`anchor-hello-c${light}`, phase) ?? emptySeries)
  const bigLabel = recordsLabel(opts.records)
  const smallLabel = recordsLabel(opts.smallRecords)
  const f2 = (v: number) => (Number.isNaN(v) ? '–' : v.toFixed(2))
  const ratios: [string, string][] = [
    ['POST: ours ÷ anchor POST+INSERT req/s (median of per-round ratios)', f2(postRatio)],
    ['POST: ours ÷ anchor hello req/s', f2(helloRatio)],
    ...reads.map((r): [string, string] => [
      `${r.label} p50 at ${bigLabel} ÷ p50 at ${smallLabel} (c=${light})`,
      f2(readRatio(r.id)),
    ]),
    [
      `GET /v1/totals p99 at ${bigLabel} − anchor hello GET p99 (c=${light}): the part above the machine's floor`,
      `${f2((totalsAt('large')?.p99 ?? Number.NaN) - (helloAt('large')?.p99 ?? Number.NaN))} ms (floor ${f2(helloAt('large')?.p99 ?? Number.NaN)} ms)`,
    ],
    ['import ÷ raw COPY rows/s (median of per-round ratios)', f2(importRatio)],
  ]

  const oursPeak = Math.max(
    seedFigures.rssMaxMb ?? 0,
    ...series
      .filter((s) => !s.id.startsWith('anchor'))
      .flatMap((s) => s.samples.map((x) => Math.max(x.proc.rssMaxMb ?? 0, x.proc.hwmMb ?? 0))),
  )
  const postSum = summarise(find('ours-post', 'large') ?? emptySeries)
  const totalsBig = totalsAt('large')
  const goal = (text: string, measured: string, met: boolean | null): Goal => ({ goal: text, measured, met })
  const known = (v: number) => !Number.isNaN(v)
  const goals: Goal[] = [
    goal(
      'POST /v1/purchases ≥ 0.6 × anchor POST+INSERT req/s',
      `${f2(postRatio)} (${Math.round(postSum?.rps ?? Number.NaN)} req/s)`,
      known(postRatio) ? postRatio >= 0.6 : null,
    ),
    goal(
      'POST /v1/purchases: every response 2xx',
      `${postSum ? postSum.non2xx + postSum.errors : '–'} non-2xx/errors`,
      postSum ? postSum.non2xx + postSum.errors === 0 : null,
    ),
    goal(
      `GET /v1/totals p99 ≤ 5 ms at ${bigLabel} records (c=${light})`,
      `${f2(totalsBig?.p99 ?? Number.NaN)} ms`,
      totalsBig?.p99 !== undefined ? totalsBig.p99 <= 5 : null,
    ),
    goal(
      `GET /v1/totals p50 at ${bigLabel} ≤ 1.5 × p50 at ${smallLabel} (c=${light})`,
      f2(readRatio('totals')),
      known(readRatio('totals')) ? readRatio('totals') <= 1.5 : null,
    ),
    goal(
      'CSV import ≥ 0.5 × raw COPY rows/s',
      f2(importRatio),
      known(importRatio) ? importRatio >= 0.5 : null,
    ),
    goal('server RSS ≤ 200 MB throughout', `peak ${oursPeak.toFixed(0)} MB`, oursPeak <= 200),
  ]
  if (opts.records < 1_000_000) {
    goals.push(goal(`(run at ${bigLabel} records, not the 1M the goals name)`, '', null))
  }

  printTable(series, ratios, goals)

  let profile: ReturnType<typeof topSelfTime> | undefined
  if (opts.profile) {
    await ours.stop()
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
    if (file) {
      profile = topSelfTime(join(profileDir, file), 25)
      console.log(
        `\nserver CPU profile ${join(profileDir, file)} (busy ${((1 - profile.idleShare) * 100).toFixed(0)} %)`,
      )
      for (const t of profile.top) {
        console.log(`  ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.fn}  ${t.where}`)
      }
      console.log('  by package:')
      for (const p of profile.byPackage.slice(0, 12)) {
        console.log(`  ${(p.share * 100).toFixed(1).padStart(5)} %  ${p.pkg}`)
      }
    } else log(`no profile written in ${profileDir}`)
  }

  const out = join(resultsDir, `bench-${stamp}.json`)
  writeFileSync(
    out,
    JSON.stringify(
      {
        started_at: startedAt.toISOString(),
        finished_at: new Date().toISOString(),
        command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
        options: { ...opts, only: [...opts.only], databaseUrl: undefined },
        machine: {
          cpus: cpus().length,
          cpu_model: cpus()[0]?.model,
          node: process.version,
          postgres: (await probe.query<{ v: string }>('select version() as v')).rows[0]?.v,
        },
        records: { small: twoPhases ? opts.smallRecords : null, large: opts.records, final: finalRecords },
        idle_rss_mb: idleRssMb,
        seeding: { rss_max_mb: seedFigures.rssMaxMb },
        series: series.map((s) => ({ ...s, summary: summarise(s) })),
        ratios: Object.fromEntries(ratios),
        goals,
        profile,
      },
      null,
      2,
    ),
  )
  log(`raw figures: ${out}`)
}

class Skip extends Error {}
const emptySeries: Series = { id: '', label: '', phase: 'large', records: 0, samples: [] }

main()
  .then(
    () => cleanupAll(),
    async (err) => {
      console.error(`bench failed: ${(err as Error).stack ?? err}`)
      await cleanupAll()
      process.exitCode = 1
    },
  )
  .then(() => process.exit())
