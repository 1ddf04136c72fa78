/**
 * One measurement = an autocannon run against one process, with exact latencies (autocannon's own histogram
 * rounds to whole milliseconds, too coarse for 1–3 ms reads), that process's peak RSS and CPU time,
 * PostgreSQL's CPU time, and (for our server) what its database sessions were waiting on.
 */
import { writeFileSync } from 'node:fs'
import autocannon, { type Request } from 'autocannon'
import type pg from 'pg'
import { cpuSeconds, statusKb } from '../lib/processes.js'

export interface LoadResult {
  /** Completed requests per second over the run. */
  rps: number
  /** Latency percentiles in ms, exact, over every response. */
  p50: number
  p99: number
  mean: number
  requests: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
}

export interface LoadSpec {
  url: string
  connections: number
  duration: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** Builds each request afresh (unique idempotency keys, vouchers …). */
  setupRequest?: Request['setupRequest']
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return Number.NaN
  const mid = v.length >> 1
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
}

export async function load(spec: LoadSpec): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16)
  let n = 0
  const statusCodes: Record<string, number> = {}
  const request: Request = {
    method: spec.method ?? 'GET',
    headers: spec.headers,
    body: spec.body,
    setupRequest: spec.setupRequest,
  }
  if (!spec.setupRequest) delete request.setupRequest
  const started = process.hrtime.bigint()
  const instance = autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.duration,
    timeout: 30,
    requests: [request],
  })
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (n === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2)
      bigger.set(latencies)
      latencies = bigger
    }
    latencies[n++] = responseTime
    statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1
  })
  const result = await instance
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const sorted = latencies.subarray(0, n).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    rps: n / (result.duration > 0 ? result.duration : seconds),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: n ? sum / n : Number.NaN,
    requests: n,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
  }
}

/**
 * PostgreSQL processes that work for the bench: the bench database's backends (client backends,
 * autovacuum workers) and the server-wide background processes (WAL writer, checkpointer …).
 */
async function postgresPids(client: pg.Client, database: string): Promise<number[]> {
  const { rows } = await client.query<{ pid: number }>(
    `select pid from pg_stat_activity where datname = $1 or datname is null`,
    [database],
  )
  return rows.map((r) => r.pid)
}

function cpuOf(pids: number[]): Map<number, number> {
  const out = new Map<number, number>()
  for (const pid of pids) {
    const s = cpuSeconds(pid)
    if (s !== undefined) out.set(pid, s)
  }
  return out
}

/** Current VmRSS of a process, MB (0 when it is gone). */
export function rssMb(pid: number): number {
  return (statusKb(pid, 'VmRSS') ?? 0) / 1024
}

export interface ProcessFigures {
  /** Max VmRSS seen by sampling every 100 ms, MB (null: no process under test, e.g. raw COPY). */
  rssMaxMb: number | null
  /** VmHWM at the end (reset at the start when the kernel allows it), MB. */
  hwmMb: number | null
  hwmReset: boolean
  /** CPU used by the process under test / the bench database's PostgreSQL processes / this bench process, in cores. */
  cpuCores: number | null
  pgCpuCores: number
  benchCpuCores: number
  /** Share of sampled active database sessions per wait event ('CPU' = running), when sampled. */
  waits?: Record<string, number>
  waitSamples?: number
}

/** "5" resets the peak RSS (VmHWM) to the current RSS, so VmHWM becomes this phase's peak. */
function resetPeakRss(pid: number | undefined): boolean {
  if (pid === undefined) return false
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false // not permitted: VmHWM is then the process's lifetime peak
  }
}

/** Counts what the database's active sessions wait on, one sample per tick (skipped while one is running). */
function waitSampler(client: pg.Client, database: string) {
  const waits = new Map<string, number>()
  let samples = 0
  let querying = false
  return {
    tick() {
      if (querying) return
      querying = true
      client
        .query<{ w: string; n: string }>(
          `select coalesce(wait_event_type || ':' || wait_event, 'CPU') as w, count(*) as n
             from pg_stat_activity
            where datname = $1 and state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'
            group by 1`,
          [database],
        )
        .then(({ rows }) => {
          samples++
          for (const r of rows) waits.set(r.w, (waits.get(r.w) ?? 0) + Number(r.n))
        })
        .catch(() => {})
        .finally(() => {
          querying = false
        })
    },
    figures(): Pick<ProcessFigures, 'waits' | 'waitSamples'> {
      const total = [...waits.values()].reduce((a, b) => a + b, 0)
      return {
        waitSamples: samples,
        waits: Object.fromEntries(
          [...waits.entries()]
            .sort((a, b) => b[1] - a[1])
            .map(([w, c]) => [w, Math.round((c / Math.max(total, 1)) * 1000) / 1000]),
        ),
      }
    },
  }
}

/** CPU seconds PostgreSQL's processes used since `pg0` (processes started since count from zero). */
async function pgCpuSince(client: pg.Client, database: string, pg0: Map<number, number>): Promise<number> {
  const pg1 = cpuOf([...new Set([...pg0.keys(), ...(await postgresPids(client, database))])])
  let pgSeconds = 0
  for (const [p, s] of pg1) pgSeconds += s - (pg0.get(p) ?? 0)
  return pgSeconds
}

/** Samples a process (and the bench database's sessions) while a measurement runs. */
export async function startSampling(opts: {
  pid?: number
  client: pg.Client
  database: string
  /** Also sample what the database's active sessions wait on. */
  waits?: boolean
}) {
  const { pid, client, database } = opts
  const hwmReset = resetPeakRss(pid)
  const rss = () => (pid === undefined ? 0 : (statusKb(pid, 'VmRSS') ?? 0))
  const pg0 = cpuOf(await postgresPids(client, database))
  const t0 = process.hrtime.bigint()
  const cpu0 = pid === undefined ? 0 : (cpuSeconds(pid) ?? 0)
  const bench0 = process.cpuUsage()
  let rssMax = rss()
  const waits = waitSampler(client, database)
  const timer = setInterval(() => {
    rssMax = Math.max(rssMax, rss())
    if (opts.waits) waits.tick()
  }, 100)
  return {
    async stop(): Promise<ProcessFigures> {
      clearInterval(timer)
      rssMax = Math.max(rssMax, rss())
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      const cpu1 = pid === undefined ? 0 : (cpuSeconds(pid) ?? cpu0)
      const bench = process.cpuUsage(bench0)
      const pgSeconds = await pgCpuSince(client, database, pg0)
      return {
        rssMaxMb: pid === undefined ? null : rssMax / 1024,
        hwmMb: pid === undefined ? null : (statusKb(pid, 'VmHWM') ?? 0) / 1024,
        hwmReset,
        cpuCores: pid === undefined ? null : (cpu1 - cpu0) / seconds,
        pgCpuCores: pgSeconds / seconds,
        benchCpuCores: (bench.user + bench.system) / 1e6 / seconds,
        ...(opts.waits ? waits.figures() : {}),
      }
    },
  }
}
