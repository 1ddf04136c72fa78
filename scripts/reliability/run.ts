/**
 * Reliability proof (issue 3): exactly-once writes across two server instances, a crash and a database
 * outage, with real server processes and real HTTP.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run test:reliability
 *
 * DATABASE_URL only names the PostgreSQL server (and a database to connect to for administration): the
 * script creates its own database `<db>_rel_<random>` there, runs everything in it and drops it at the
 * end. Nothing is created in the named database itself.
 *
 * 1. Two instances on the new database; 16 clients send creates round-robin (each with an Idempotency-Key
 *    that is also its `external_ref`), re-send a random third (same key, same body; some concurrently with
 *    the original), and send some with clashing vouchers (expect 409 duplicate_voucher).
 * 2. Mid-run one instance is killed with SIGKILL; unanswered requests are retried on the other (same key,
 *    same body); the killed instance is then started again, as a supervisor would.
 * 3. Mid-run the database is cut: first its connections are terminated repeatedly, then it refuses
 *    connections for a few seconds (ALLOW_CONNECTIONS false + terminate). The service must answer 503
 *    service_unavailable problem+json and /readyz 503 meanwhile, and recover by itself.
 * Then the database is checked directly. Figures go to stdout and bench-results/reliability.json; the exit
 * status is non-zero on any loss, duplicate, 500 or mismatch.
 *
 * Tuning (optional): RELIABILITY_CREATES (default 5000), RELIABILITY_CLIENTS (16),
 * RELIABILITY_KEEP_DB=1 keeps the database for inspection.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import pg from 'pg'
import { httpRequest } from '../lib/http.js'
import { buildBundle, cleanupAll, freePort, installSignalHandlers, onCleanup } from '../lib/processes.js'
import { RESULTS_DIR, writeResultsFile } from '../lib/results.js'
import { runChaos } from './chaos.js'
import { newTraffic, runClients, startMonitor, type Traffic } from './clients.js'
import { RUN_DEADLINE_MS } from './config.js'
import { createRunDatabase, type RunDatabase } from './database.js'
import { Instance } from './instance.js'
import { failuresOf, figuresOf, type Outcome, printTable } from './report.js'
import { verifyDatabase } from './verify.js'
import { buildTasks } from './workload.js'

interface Run {
  runId: string
  t0: number
  db: RunDatabase
  instances: Instance[]
  auth: Record<string, string>
}

function requireDatabaseUrl(): string {
  const baseUrl = process.env.DATABASE_URL
  if (!baseUrl || !/^postgres(ql)?:\/\//.test(baseUrl)) {
    console.error(
      'DATABASE_URL must name the PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/test',
    )
    process.exit(2)
  }
  return baseUrl
}

/** Past the deadline, or on Ctrl-C: stop the servers, drop the database, fail. */
function failOnDeadlineOrSignal(): NodeJS.Timeout {
  const fail = (why: string) => console.error(`reliability: FAILED — ${why}`)
  installSignalHandlers((sig) => fail(sig === 'SIGINT' ? 'interrupted' : 'terminated'), 1)
  const watchdog = setTimeout(() => {
    fail(`run exceeded ${RUN_DEADLINE_MS} ms`)
    void cleanupAll().finally(() => process.exit(1))
  }, RUN_DEADLINE_MS)
  watchdog.unref()
  return watchdog
}

/** Two instances on the run's database, stopped at cleanup; none started yet. */
async function createInstances(
  db: RunDatabase,
): Promise<{ instances: Instance[]; auth: Record<string, string> }> {
  const adminApiKey = randomBytes(24).toString('hex')
  const env = { databaseUrl: db.url, adminApiKey, logDir: RESULTS_DIR }
  const instances = [new Instance('A', await freePort(), env), new Instance('B', await freePort(), env)]
  onCleanup('stop instances', async () => {
    await Promise.all(instances.map((i) => i.stop()))
  })
  return { instances, auth: { authorization: `Bearer ${adminApiKey}` } }
}

/** Starts both instances; answers the start-up time since the run began. */
async function startInstances(run: Run): Promise<number> {
  for (const i of run.instances) i.start()
  await Promise.all(run.instances.map((i) => i.waitHealthy()))
  return Date.now() - run.t0
}

async function createOrg(run: Run): Promise<string> {
  const A = run.instances[0]!
  const orgRes = await httpRequest(A.agent, `${A.url}/v1/orgs`, {
    method: 'POST',
    headers: { ...run.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `可靠性测试单位 ${run.runId}`, kind: 'trade_union' }),
  })
  if (orgRes.status !== 201) throw new Error(`creating the org: ${orgRes.status} ${orgRes.body}`)
  return (JSON.parse(orgRes.body) as { id: string }).id
}

/** The clients and the chaos together; then the servers stopped (gracefully) so nothing is in flight. */
async function load(run: Run, traffic: Traffic) {
  const monitor = startMonitor(run.instances)
  const clientsDone = runClients(traffic)
  const [loadEnd, chaos] = await Promise.all([clientsDone, runChaos(traffic, run.db, run.instances)])
  await monitor.stop()
  const loadMs = loadEnd - traffic.loadStart
  const serverCpuSeconds = run.instances.map((i) => i.cpuSeconds())
  const driverCpu = process.cpuUsage()
  await Promise.all(run.instances.map((i) => i.stop()))
  return { chaos, loadMs, serverCpuSeconds, driverCpu }
}

/** Verification, against the database directly. */
async function verify(run: Run, traffic: Traffic) {
  const client = new pg.Client({ connectionString: run.db.url })
  await client.connect()
  try {
    return await verifyDatabase(client, [...traffic.keyResults.values()])
  } finally {
    await client.end()
  }
}

async function exercise(run: Run): Promise<Outcome> {
  const startupMs = await startInstances(run)
  const orgId = await createOrg(run)
  const traffic = newTraffic(run.instances, run.auth, buildTasks(run.runId, orgId))
  const loaded = await load(run, traffic)
  const verification = await verify(run, traffic)
  return { database: run.db.name, traffic, verification, instances: run.instances, startupMs, ...loaded }
}

function printErrorLines(instances: Instance[]) {
  if (!instances.some((i) => i.errorLines.length)) return
  console.error('server error log lines:')
  for (const line of instances.flatMap((i) => i.errorLines).slice(0, 20))
    console.error(`  ${line.slice(0, 2000)}`)
}

function finish(figures: Record<string, unknown>, failures: string[], t0: number): never {
  printTable(figures)
  const totalMs = Date.now() - t0
  const report = { ...figures, total_ms: totalMs, ok: failures.length === 0, failures }
  writeResultsFile('reliability.json', report)
  for (const f of failures) console.error(`FAIL: ${f}`)
  const summary = `${figures.acknowledged} acknowledged, ${figures.stored} stored, ${figures.lost} lost, ${figures.duplicated} duplicated, ${figures.unavailable_503} × 503, ${figures.internal_500} × 500, recovery ${figures.recovery_ms} ms, ${(totalMs / 1000).toFixed(1)} s`
  if (failures.length) {
    console.error(`reliability: FAILED (${failures.length} problem(s)) — ${summary}`)
    process.exit(1)
  }
  console.log(`reliability: PASSED — ${summary}`)
  process.exit(0)
}

async function main() {
  const baseUrl = requireDatabaseUrl()
  // Real server processes, run as `npm start` runs them: the esbuild bundle in dist/.
  buildBundle()
  const t0 = Date.now()
  const runId = randomBytes(4).toString('hex')
  mkdirSync(RESULTS_DIR, { recursive: true })
  const watchdog = failOnDeadlineOrSignal()
  let figures: Record<string, unknown> = {}
  let failures: string[] = []
  try {
    const db = await createRunDatabase(baseUrl, runId)
    const run: Run = { runId, t0, db, ...(await createInstances(db)) }
    const outcome = await exercise(run)
    figures = figuresOf(outcome)
    failures = failuresOf(outcome)
    if (failures.length) printErrorLines(run.instances)
  } finally {
    clearTimeout(watchdog)
    await cleanupAll()
  }
  finish(figures, failures, t0)
}

main().catch(async (err) => {
  console.error(`reliability: FAILED — ${(err as Error).stack ?? err}`)
  await cleanupAll()
  process.exit(1)
})
