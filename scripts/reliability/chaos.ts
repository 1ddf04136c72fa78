/**
 * The chaos, on a schedule tied to the clients' progress: kill -9 one instance and start it again, a storm
 * of terminated database sessions, then a database outage — probing both instances meanwhile — and the
 * time to recover.
 */
import { probe } from '../lib/http.js'
import { sleep } from '../lib/processes.js'
import { isServiceUnavailable, progressAt, type Traffic } from './clients.js'
import { OUTAGE_MS, STORM_MS } from './config.js'
import type { RunDatabase } from './database.js'
import type { Instance } from './instance.js'

export interface Probe {
  instance: string
  status: number | 'network'
  ok503: boolean
}

export interface Chaos {
  killedAt: number
  restartedAt: number
  stormTerminated: number
  outageStart: number
  outageEnd: number
  readyRecoveredMs: number
  writeRecoveredMs: number
  missed: string[]
  log: string[]
  readyProbes: (Probe & { at: number })[]
  apiProbes: Probe[]
}

interface Ctx {
  traffic: Traffic
  db: RunDatabase
  instances: Instance[]
  chaos: Chaos
}

function note(c: Ctx, s: string) {
  const line = `+${((Date.now() - c.traffic.loadStart) / 1000).toFixed(1)}s ${s}`
  c.chaos.log.push(line)
  console.log(`  ${line}`)
}

/** 2. kill -9 one instance while requests are in flight, then start it again; resolves once it is back. */
async function killAndRestart(c: Ctx): Promise<{ restarted: Promise<void> }> {
  const A = c.instances[0]!
  await progressAt(c.traffic, 0.15)
  if (c.traffic.loadDone) c.chaos.missed.push('kill')
  await A.kill9()
  c.chaos.killedAt = Date.now()
  note(c, `kill -9 instance A (pid gone); clients retry on B`)
  // Started again in the background (a slow start must not hold up the rest of the schedule); it is back
  // before the outage, so both instances are checked during it.
  await progressAt(c.traffic, 0.25)
  A.start()
  const restarted = A.waitHealthy().then(() => {
    c.chaos.restartedAt = Date.now()
    note(c, `instance A started again (${c.chaos.restartedAt - c.chaos.killedAt} ms after the kill)`)
  })
  return { restarted }
}

/**
 * 3a. connection storm: terminate every backend of ours, repeatedly — once the restarted instance is up (on a
 * busy machine its start-up can take seconds, and a start cut off by the storm is a failed start).
 */
async function storm(c: Ctx, restarted: Promise<void>): Promise<void> {
  await progressAt(c.traffic, 0.45)
  await restarted
  if (c.traffic.loadDone) c.chaos.missed.push('storm')
  const stormEnd = Date.now() + STORM_MS
  while (Date.now() < stormEnd) {
    c.chaos.stormTerminated += await c.db.terminate()
    await sleep(150)
  }
  note(c, `terminated ${c.chaos.stormTerminated} backends over ${STORM_MS} ms`)
}

/** /readyz and the API of one instance during the outage; answers that come after it are not counted. */
async function probeOutage(c: Ctx, i: Instance, outageUntil: number): Promise<void> {
  const at = Date.now()
  const ready = await probe(`${i.url}/readyz`, {}, 5_000)
  if (Date.now() < outageUntil) {
    c.chaos.readyProbes.push({
      instance: i.name,
      at,
      status: ready?.status ?? 'network',
      ok503: ready?.status === 503 && isServiceUnavailable(ready.contentType, ready.body),
    })
  }
  const api = await probe(`${i.url}/v1/purchases?limit=1`, c.traffic.auth, 5_000)
  if (Date.now() < outageUntil) {
    c.chaos.apiProbes.push({
      instance: i.name,
      status: api?.status ?? 'network',
      ok503: api?.status === 503 && isServiceUnavailable(api.contentType, api.body),
    })
  }
}

/** 3b. outage: the database refuses connections, and the ones open are cut. */
async function outage(c: Ctx, restarted: Promise<void>): Promise<void> {
  await progressAt(c.traffic, 0.6)
  await restarted
  if (c.traffic.loadDone) c.chaos.missed.push('outage')
  await c.db.allowConnections(false)
  await c.db.terminate()
  c.chaos.outageStart = Date.now()
  note(c, 'database refuses connections (ALLOW_CONNECTIONS false, backends terminated)')
  const outageUntil = c.chaos.outageStart + OUTAGE_MS
  while (Date.now() < outageUntil) {
    await c.db.terminate()
    await Promise.all(c.instances.map((i) => probeOutage(c, i, outageUntil)))
    await sleep(150)
  }
  c.chaos.outageEnd = Date.now()
  await c.db.allowConnections(true)
  note(c, `database accepts connections again after ${c.chaos.outageEnd - c.chaos.outageStart} ms`)
}

/** Recovery: every instance ready again, and a create acknowledged, with no restart. */
async function recovery(c: Ctx): Promise<void> {
  const back = Date.now()
  const recoveryDeadline = back + 30_000
  while (Date.now() < recoveryDeadline) {
    const states = await Promise.all(c.instances.map((i) => probe(`${i.url}/readyz`, {}, 1_000)))
    if (states.every((s) => s?.status === 200)) {
      c.chaos.readyRecoveredMs = Date.now() - back
      break
    }
    await sleep(25)
  }
  while (Date.now() < recoveryDeadline && !c.traffic.loadDone) {
    const first = c.traffic.attempts.find((a) => a.start >= back && a.status === 201)
    if (first) {
      c.chaos.writeRecoveredMs = first.end - back
      break
    }
    await sleep(10)
  }
  note(
    c,
    `recovered: /readyz 200 on all instances after ${c.chaos.readyRecoveredMs} ms, first create acknowledged after ${c.chaos.writeRecoveredMs} ms`,
  )
}

/** Runs the schedule while the clients run; resolves with what happened. */
export async function runChaos(traffic: Traffic, db: RunDatabase, instances: Instance[]): Promise<Chaos> {
  const chaos: Chaos = {
    killedAt: 0,
    restartedAt: 0,
    stormTerminated: 0,
    outageStart: 0,
    outageEnd: 0,
    readyRecoveredMs: -1,
    writeRecoveredMs: -1,
    missed: [],
    log: [],
    readyProbes: [],
    apiProbes: [],
  }
  const c: Ctx = { traffic, db, instances, chaos }
  const { restarted } = await killAndRestart(c)
  await storm(c, restarted)
  await outage(c, restarted)
  await recovery(c)
  return chaos
}
