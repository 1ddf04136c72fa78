/**
 * `npm run bench`: the service measured against this machine's own limits (issue 6). It creates a fresh
 * PostgreSQL database, starts the server and two anchors as child processes, seeds purchases by COPY, and
 * runs every measurement in interleaved rounds (order reversed every other round) so machine drift cancels;
 * it prints medians, ratios and the goals, and writes the raw figures to bench-results/.
 * Everything it starts or creates is stopped/dropped at the end, on failure and on Ctrl-C.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { installSignalHandlers, onCleanup, runMain } from '../lib/processes.js'
import { fileStamp, RESULTS_DIR } from '../lib/results.js'
import { startSampling } from './measure.js'
import { type Bench, measurementsFor, postBodies, probeAvailability } from './measurements.js'
import { type BenchOptions, parseOptions } from './options.js'
import { countRecords, log, runPhase, seedTo } from './phases.js'
import { printTable } from './report.js'
import { createBenchDatabase } from './seed.js'
import { createActors, startProcesses } from './setup.js'
import { printProfile, ratiosAndGoals, writeResults } from './summary.js'

function logOptions(opts: BenchOptions) {
  log(
    `records ${opts.records} (small phase ${opts.smallRecords}), ${opts.duration} s per measurement, ` +
      `${opts.connections} connections (reads also at ${opts.lightConnections}), ${opts.rounds} rounds, ` +
      `import ${opts.importRows} rows, groups ${[...opts.only].join(',')}`,
  )
}

/** The database, the processes, the orgs and keys, and the probe connection: a bench ready to measure. */
async function prepare(opts: BenchOptions, profileDir: string | undefined): Promise<Bench> {
  const tag = randomBytes(3).toString('hex')
  const db = await createBenchDatabase(opts.databaseUrl)
  log(`database ${db.name} (dropped at the end)`)
  for (const d of db.stale) log(`dropped ${d}, left behind by a bench that was killed`)
  const adminSecret = `bench-admin-${randomBytes(16).toString('hex')}`
  const processes = await startProcesses(db, adminSecret, profileDir, log)
  const actors = await createActors(processes.ours.url, adminSecret, tag, opts.seedOrgs)
  const probe = new pg.Client({ connectionString: db.url })
  await probe.connect()
  onCleanup('probe connection', () => probe.end())
  const unavailable = new Map<string, string>()
  const b: Bench = {
    ...processes,
    opts,
    tag,
    db,
    actors,
    probe,
    unavailable,
    postBody: postBodies(tag),
    series: [],
    seeded: 0,
  }
  await probeAvailability(b)
  for (const [id, why] of unavailable) log(`${id}: unavailable (${why}); skipped`)
  return b
}

/** Reads at the small record count first (when there are two phases), then everything at the large one. */
async function measure(b: Bench) {
  const measurements = measurementsFor(b)
  const readMeasurements = measurements.filter((m) => m.group === 'reads')
  const seedRss = await startSampling({ pid: b.ours.pid, client: b.probe, database: b.db.name })
  const twoPhases = b.opts.records > b.opts.smallRecords && readMeasurements.length > 0
  if (twoPhases) {
    await seedTo(b, b.opts.smallRecords)
    await runPhase(b, 'small', readMeasurements)
  }
  await seedTo(b, b.opts.records)
  const seeding = await seedRss.stop()
  await runPhase(b, 'large', measurements)
  return { twoPhases, seeding, finalRecords: await countRecords(b) }
}

async function main() {
  const opts = parseOptions(process.argv.slice(2), process.env)
  installSignalHandlers()
  const startedAt = new Date()
  logOptions(opts)
  mkdirSync(RESULTS_DIR, { recursive: true })
  const stamp = fileStamp(startedAt)
  const profileDir = join(RESULTS_DIR, `prof-${stamp}`)
  const b = await prepare(opts, opts.profile ? profileDir : undefined)
  const run = await measure(b)
  const { ratios, goals } = ratiosAndGoals(b, run.seeding)
  printTable(b.series, ratios, goals)
  const profile = opts.profile ? await printProfile(b, profileDir) : undefined
  await writeResults(b, `bench-${stamp}.json`, { startedAt, ...run }, { ratios, goals, profile })
}

runMain('bench', main)
