/**
 * Reliability of the embedded default (issue 14), with real server processes and real HTTP, each in a
 * scratch DATA_DIR (no DATABASE_URL: an inherited one is ignored):
 *
 *   npm run test:reliability:embedded        # as root it needs a `postgres` user; needs strace
 *
 * 1. Durability (durability.ts): under strace, every acknowledged write had its WAL written and flushed
 *    before its 201; a control burst without synchronous commit must fail that check.
 * 2. Crashes (crash-cycles.ts): kill -9 of the server, of its PostgreSQL, and of both, under load from 16
 *    clients; 0 acknowledged records lost, 0 duplicated, indexes intact.
 * Figures go to stdout and bench-results/reliability-embedded.json; the exit status is non-zero on any failure.
 * Options: DURABILITY_WRITES (1 000), RELIABILITY_EMBEDDED_CREATES (3 000), RELIABILITY_KEEP_DB=1 keeps the
 * scratch folders (and strace's output).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { buildBundle, cleanupAll, installSignalHandlers } from '../lib/processes.js'
import { RESULTS_DIR, writeResultsFile } from '../lib/results.js'
import { runCrashCycles } from './crash-cycles.js'
import { runDurability } from './durability.js'

function requireStrace() {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' })
  } catch {
    console.error('reliability (embedded): FAILED — strace is not installed (e.g. apt-get install strace)')
    process.exit(1)
  }
}

async function main() {
  requireStrace()
  buildBundle()
  installSignalHandlers(undefined, 1)
  mkdirSync(RESULTS_DIR, { recursive: true })
  const t0 = Date.now()
  const runId = randomBytes(4).toString('hex')
  const env = { runId, adminApiKey: randomBytes(24).toString('hex'), logDir: RESULTS_DIR }
  console.log('durability: writes under strace')
  const durability = await runDurability(env)
  console.log(JSON.stringify(durability.figures, null, 2))
  await cleanupAll()
  console.log('crashes: kill -9 cycles under load')
  const crashes = await runCrashCycles(env)
  console.log(JSON.stringify(crashes.figures, null, 2))
  const failures = [
    ...durability.failures.map((f) => `durability: ${f}`),
    ...crashes.failures.map((f) => `crashes: ${f}`),
  ]
  const seconds = ((Date.now() - t0) / 1000).toFixed(1)
  writeResultsFile('reliability-embedded.json', {
    durability: durability.figures,
    crashes: crashes.figures,
    total_s: Number(seconds),
    ok: failures.length === 0,
    failures,
  })
  const d = durability.figures
  const c = crashes.figures
  const summary =
    `${d.commits_acknowledged} commits acknowledged under strace, ${d.wal_flushes} WAL flushes, ` +
    `${d.acks_without_flush} without a flush (control: ${d.control.acks_without_flush} of ${d.control.commits_acknowledged}); ` +
    `${c.cycles.length} kill -9 cycles: ${c.acknowledged} acknowledged, ${c.stored} stored, ${c.lost} lost, ` +
    `${c.duplicated} duplicated, ${c.internal_500} × 500; ${seconds} s`
  for (const f of failures) console.error(`FAIL: ${f}`)
  if (failures.length) throw new Error(`${failures.length} problem(s) — ${summary}`)
  console.log(`reliability (embedded): PASSED — ${summary}`)
}

main()
  .then(
    () => cleanupAll(),
    async (err) => {
      console.error(`reliability (embedded): FAILED — ${(err as Error).stack ?? err}`)
      await cleanupAll()
      process.exitCode = 1
    },
  )
  .then(() => process.exit())
