/**
 * The bench's phases: seeding to a record count, then warm-up and interleaved rounds of the measurements
 * (order reversed every other round, so machine drift cancels), each after the database has settled.
 */
import { sleep } from '../lib/processes.js'
import { startSampling } from './measure.js'
import { type Bench, type Measurement, Skip } from './measurements.js'
import type { Series } from './report.js'
import { seedPurchases } from './seed.js'

export const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`)

export async function countRecords(b: Bench): Promise<number> {
  return Number((await b.probe.query<{ n: string }>('select count(*) as n from purchases')).rows[0]!.n)
}

/** Seeds by COPY up to `target` records. */
export async function seedTo(b: Bench, target: number): Promise<void> {
  const t0 = Date.now()
  const { seedOrgIds, seedKey } = b.actors
  await seedPurchases(
    b.db.url,
    { from: b.seeded, count: target - b.seeded, orgIds: seedOrgIds, keyId: seedKey.id, tag: b.tag },
    (done) => log(`  seeded ${b.seeded + done} / ${target}`),
  )
  const s = (Date.now() - t0) / 1000
  log(
    `seeded ${target - b.seeded} records by COPY in ${s.toFixed(1)} s (${Math.round((target - b.seeded) / s)} rows/s)`,
  )
  b.seeded = target
}

/**
 * Waits until no session of the bench database is active (three samples in a row), so requests the server
 * still had queued when a load run stopped do not spill into the next measurement.
 */
async function settle(b: Bench, maxMs = 180_000): Promise<void> {
  const deadline = Date.now() + maxMs
  let quiet = 0
  while (quiet < 3 && Date.now() < deadline) {
    const { rows } = await b.probe.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = $1 and state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'`,
      [b.db.name],
    )
    quiet = rows[0]!.n === 0 ? quiet + 1 : 0
    await sleep(200)
  }
  if (quiet < 3) log(`  warning: the database was still busy after ${maxMs / 1000} s`)
}

async function warmUp(b: Bench, list: Measurement[]): Promise<void> {
  for (const m of list) {
    await settle(b)
    try {
      await m.run(-1, true)
    } catch (err) {
      if (!(err instanceof Skip)) log(`  warm-up ${m.id} failed: ${(err as Error).message}`)
    }
  }
}

type Out = Awaited<ReturnType<Measurement['run']>>

function logSample(round: number, m: Measurement, out: Out, rssMaxMb: number | null) {
  const l = out.load
  log(
    `  r${round + 1} ${m.id.padEnd(14)} ` +
      (l
        ? `${Math.round(l.rps)} req/s  p50 ${l.p50.toFixed(2)}  p99 ${l.p99.toFixed(2)} ms` +
          (l.non2xx || l.errors
            ? `  NON-2XX ${l.non2xx} ${JSON.stringify(l.statusCodes)} err ${l.errors}`
            : '')
        : `${Math.round(out.rows!.rowsPerSec)} rows/s (${out.rows!.seconds.toFixed(2)} s)`) +
      (rssMaxMb === null ? '' : `  rss ${rssMaxMb.toFixed(0)} MB`),
  )
}

/** One measurement in one round, sampled; a failure is recorded as a figure and the run goes on. */
async function measureOnce(b: Bench, m: Measurement, s: Series, round: number): Promise<void> {
  await settle(b)
  const sampler = await startSampling({
    pid: m.target?.().pid,
    client: b.probe,
    database: b.db.name,
    waits: m.waits,
  })
  let out: Out
  try {
    out = await m.run(round, false)
  } catch (err) {
    const proc = await sampler.stop()
    if (err instanceof Skip) {
      s.skipped = err.message
      return
    }
    // One failed measurement (e.g. a 503 under overload) is a figure too; the run goes on.
    s.samples.push({ round, failed: (err as Error).message, proc })
    log(`  r${round + 1} ${m.id.padEnd(14)} FAILED: ${(err as Error).message}`)
    return
  }
  const proc = await sampler.stop()
  s.samples.push({ round, ...out, proc })
  logSample(round, m, out, proc.rssMaxMb)
}

/** Warm-up, then `rounds` interleaved rounds of `list` at the current record count. */
export async function runPhase(b: Bench, phase: 'small' | 'large', list: Measurement[]): Promise<void> {
  const records = await countRecords(b)
  log(`phase ${phase}: ${records} records; warm-up`)
  const phaseSeries = list.map(
    (m): Series => ({ id: m.id, label: m.label, phase, records, connections: m.connections, samples: [] }),
  )
  b.series.push(...phaseSeries)
  await warmUp(b, list)
  for (let round = 0; round < b.opts.rounds; round++) {
    const order = round % 2 === 0 ? list : [...list].reverse()
    for (const m of order) {
      const s = phaseSeries[list.indexOf(m)]!
      if (!s.skipped) await measureOnce(b, m, s, round)
    }
  }
}
