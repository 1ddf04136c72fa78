/**
 * The reliability run's kill -9s, on the embedded default: one server (`npm start`'s bundle, no
 * DATABASE_URL) takes the run's creates, re-sends and voucher clashes from 16 clients while, in turn,
 *   - the server is killed with SIGKILL and started again: its PostgreSQL runs on as an orphan and the new
 *     server adopts it;
 *   - the postmaster is killed with SIGKILL: the server notices, starts it again (crash recovery) and answers
 *     503 meanwhile;
 *   - both are killed at once, as a power cut of the service would: the next server starts PostgreSQL, which
 *     recovers from its WAL.
 * Then every acknowledged record is checked in the database (as the PostgreSQL run does) and every B-tree
 * index with amcheck.
 */
import { join } from 'node:path'
import { embeddedPaths, runningCluster } from '../../src/db/embedded-postgres.js'
import { probe } from '../lib/http.js'
import { freePort, onCleanup, sleep } from '../lib/processes.js'
import { newTraffic, progressAt, runClients, startMonitor, type Traffic } from './clients.js'
import { checkIndexes, createOrg, scratchDir, withEmbeddedClient } from './embedded-db.js'
import { Instance } from './instance.js'
import { exactlyOnceFailures } from './report.js'
import { verifyDatabase } from './verify.js'
import { buildTasks, formatFen } from './workload.js'

const CREATES = Number(process.env.RELIABILITY_EMBEDDED_CREATES ?? 3_000)
type Kill = 'server' | 'postmaster' | 'both'
const CYCLES: Kill[] = ['server', 'postmaster', 'both', 'server', 'postmaster', 'both']

interface Cycle {
  kill: Kill
  /** From the kill until /readyz answers 200 again; -1 when it did not within 60 s. */
  recoveredMs: number
  readyz503: boolean
}

/** /readyz until 200: answers whether a 503 was seen, or undefined after 60 s. */
async function untilReady(inst: Instance): Promise<{ saw503: boolean } | undefined> {
  let saw503 = false
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const res = await probe(`${inst.url}/readyz`, {}, 2_000)
    if (res?.status === 200) return { saw503 }
    if (res?.status === 503) saw503 = true
    await sleep(50)
  }
  return undefined
}

async function cycle(inst: Instance, dataDir: string, kill: Kill): Promise<Cycle> {
  const started = Date.now()
  if (kill !== 'server') {
    const postmaster = runningCluster(embeddedPaths(dataDir))
    if (!postmaster) throw new Error('no running postmaster to kill')
    process.kill(postmaster.pid, 'SIGKILL')
  }
  if (kill !== 'postmaster') {
    await inst.kill9()
    inst.start()
    await inst.waitHealthy()
  }
  const ready = await untilReady(inst)
  return { kill, recoveredMs: ready ? Date.now() - started : -1, readyz503: ready?.saw503 ?? false }
}

/** The cycles, spread over the load; each waits for the service to be back before the next. */
async function runCycles(traffic: Traffic, inst: Instance, dataDir: string) {
  const cycles: Cycle[] = []
  const missed: Kill[] = []
  for (const [i, kill] of CYCLES.entries()) {
    await progressAt(traffic, (i + 1) / (CYCLES.length + 1))
    if (traffic.loadDone) missed.push(kill)
    const c = await cycle(inst, dataDir, kill)
    console.log(
      `  kill -9 ${kill}: back after ${c.recoveredMs} ms${c.readyz503 ? ' (/readyz 503 meanwhile)' : ''}`,
    )
    cycles.push(c)
  }
  return { cycles, missed }
}

export async function runCrashCycles(o: { runId: string; adminApiKey: string; logDir: string }) {
  const dataDir = join(scratchDir('crash-cycles-'), 'data')
  const inst = new Instance('embedded', await freePort(), {
    dataDir,
    adminApiKey: o.adminApiKey,
    logDir: o.logDir,
  })
  onCleanup('stop the embedded server', () => inst.stop())
  inst.start()
  await inst.waitHealthy(120_000)
  const auth = { authorization: `Bearer ${o.adminApiKey}` }
  const orgId = await createOrg(inst.url, o.adminApiKey, `崩溃测试单位 ${o.runId}`)
  const traffic = newTraffic([inst], auth, buildTasks(o.runId, orgId, CREATES))
  const monitor = startMonitor([inst])
  const [loadEnd, chaos] = await Promise.all([runClients(traffic), runCycles(traffic, inst, dataDir)])
  await monitor.stop()
  const { verification, indexes } = await withEmbeddedClient(dataDir, async (c) => ({
    verification: await verifyDatabase(c, [...traffic.keyResults.values()]),
    indexes: await checkIndexes(c),
  }))
  await inst.stop()
  const { stats } = traffic
  const figures = {
    creates: CREATES,
    requests: stats.requests,
    retries: stats.retries,
    network_errors: stats.networkErrors,
    replays: stats.replays,
    acknowledged: verification.acknowledged,
    stored: verification.stored,
    stored_amount: formatFen(verification.storedFen),
    lost: verification.lost.length,
    duplicated: verification.duplicated.length,
    phantom: verification.phantom.length,
    unavailable_503: stats.unavailable503,
    internal_500: stats.internal500,
    indexes_checked: indexes,
    cycles: chaos.cycles.map((c) => `${c.kill}: ${c.recoveredMs} ms${c.readyz503 ? ' (readyz 503)' : ''}`),
    load_ms: loadEnd - traffic.loadStart,
  }
  const failures = exactlyOnceFailures({ traffic, verification, instances: [inst] })
  if (chaos.missed.length)
    failures.push(`load finished before: ${chaos.missed.join(', ')} (raise RELIABILITY_EMBEDDED_CREATES)`)
  for (const c of chaos.cycles.filter((c) => c.recoveredMs < 0))
    failures.push(`not ready again within 60 s after kill -9 of the ${c.kill}`)
  if (stats.networkErrors === 0) failures.push('the kills left no request unanswered (nothing was retried)')
  if (verification.acknowledged < CREATES * 0.9)
    failures.push(`only ${verification.acknowledged} creates acknowledged`)
  return { figures, failures }
}
