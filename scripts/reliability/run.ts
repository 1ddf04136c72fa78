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
import { execFileSync } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { freePort, httpRequest, Instance, probe, sleep } from './servers.js'
import { verifyDatabase } from './verify.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RESULTS_DIR = join(ROOT, 'bench-results')

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`)
  return n
}

const CREATES = intEnv('RELIABILITY_CREATES', 5_000)
const CLIENTS = intEnv('RELIABILITY_CLIENTS', 16)
const RESEND_SHARE = 1 / 3
/** Of the re-sends, this share goes out at the same moment as the original (to the other instance). */
const CONCURRENT_RESEND_SHARE = 0.4
const CLASH_SHARE = 0.05
const REQUEST_TIMEOUT_MS = 20_000
/** A request not settled (2xx or a final 4xx) after this long counts as unresolved. */
const OP_DEADLINE_MS = 60_000
/** The whole run, start-up to verification; a watchdog fails it past this. */
const RUN_DEADLINE_MS = intEnv('RELIABILITY_DEADLINE_S', 300) * 1000
const STORM_MS = 3_000
const OUTAGE_MS = 3_000

const CHANNELS = ['wholesale', 'union_welfare', 'enterprise', 'canteen', 'market_sales'] as const
const REGIONS = ['530502', '530521', '530523', '530524', '530623', '530626', '653124'] as const

// ---------------------------------------------------------------------------------------------- workload

export interface Op {
  key: string
  kind: 'original' | 'resend' | 'clash'
  voucher: string
  fen: bigint
  bodyJson: string
}

/** What the clients saw for one idempotency key, over every request sent with it. */
export interface KeyResult {
  key: string
  voucher: string
  fen: bigint
  /** Final statuses of the ops sent with this key (original and re-sends). */
  finals: number[]
  ids: Set<string>
  bodiesOk: boolean
}

interface Attempt {
  start: number
  end: number
  status: number | 'network'
}

function formatFen(fen: bigint): string {
  return `${fen / 100n}.${(fen % 100n).toString().padStart(2, '0')}`
}

/** Mostly everyday amounts, some very large ones (up to the per-record maximum). */
function randomFen(): bigint {
  const r = Math.random()
  if (r < 0.02) return 999_999_999_999n - BigInt(randomInt(0, 1_000_000))
  if (r < 0.1) return BigInt(randomInt(1, 281_474_976_710_655) % 999_999_999_999) + 1n
  return BigInt(randomInt(1, 100_000_000))
}

function randomDate2024(): string {
  const day = new Date(Date.UTC(2024, 0, 1) + randomInt(0, 366) * 86_400_000)
  return day.toISOString().slice(0, 10)
}

function pick<T>(items: readonly T[]): T {
  return items[randomInt(0, items.length)]!
}

function makeOp(key: string, kind: Op['kind'], voucher: string, orgId: string): Op {
  const fen = randomFen()
  const body = {
    channel: pick(CHANNELS),
    amount: formatFen(fen),
    occurred_on: randomDate2024(),
    org_id: orgId,
    region_code: pick(REGIONS),
    supplier: '保山市某某农业开发有限公司',
    product: `小粒咖啡 ${randomInt(1, 500)} 箱`,
    voucher_no: voucher,
    external_ref: key,
  }
  return { key, kind, voucher, fen, bodyJson: JSON.stringify(body) }
}

/** The task list: each task is one or more requests fired at the same moment by one client. */
function buildTasks(runId: string, orgId: string): { tasks: Op[][]; ops: number } {
  const entries: { at: number; task: Op[] }[] = []
  const originals: Op[] = []
  for (let i = 0; i < CREATES; i++) {
    const op = makeOp(`rel-${runId}-${i}`, 'original', `V${runId}${String(i).padStart(6, '0')}`, orgId)
    originals.push(op)
    const task: Op[] = [op]
    if (Math.random() < RESEND_SHARE) {
      const resend: Op = { ...op, kind: 'resend' }
      if (Math.random() < CONCURRENT_RESEND_SHARE) task.push(resend)
      else entries.push({ at: i + 1 + Math.random() * (CREATES - i), task: [resend] })
    }
    entries.push({ at: i, task })
  }
  const clashes = Math.round(CREATES * CLASH_SHARE)
  for (let j = 0; j < clashes; j++) {
    const target = randomInt(0, CREATES)
    const clash = makeOp(`rel-${runId}-c${j}`, 'clash', originals[target]!.voucher, orgId)
    // A third race their original (same moment, other instance); the rest come before or after it.
    if (j % 3 === 0) entries.find((e) => e.at === target)!.task.push(clash)
    else entries.push({ at: Math.random() * CREATES, task: [clash] })
  }
  entries.sort((a, b) => a.at - b.at)
  const tasks = entries.map((e) => e.task)
  return { tasks, ops: tasks.reduce((n, t) => n + t.length, 0) }
}

// ---------------------------------------------------------------------------------------------- the run

const stats = {
  ops: 0,
  opsSettled: 0,
  requests: 0,
  retries: 0,
  networkErrors: 0,
  replays: 0,
  created201: 0,
  duplicateVoucher409: 0,
  inUse409: 0,
  unavailable503: 0,
  bad503: 0,
  internal500: 0,
  unexpected: 0,
  unresolved: 0,
}
const samples: { unexpected: string[]; internal: string[]; bad503: string[] } = {
  unexpected: [],
  internal: [],
  bad503: [],
}
const attempts: Attempt[] = []
const keyResults = new Map<string, KeyResult>()

function keep(list: string[], s: string) {
  if (list.length < 10) list.push(s)
}

function isServiceUnavailable(contentType: string, text: string): boolean {
  if (!contentType.startsWith('application/problem+json')) return false
  try {
    const body = JSON.parse(text) as { code?: string; status?: number }
    return body.code === 'service_unavailable' && body.status === 503
  } catch {
    return false
  }
}

async function main() {
  const baseUrl = process.env.DATABASE_URL
  if (!baseUrl || !/^postgres(ql)?:\/\//.test(baseUrl)) {
    console.error(
      'DATABASE_URL must name the PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/test',
    )
    process.exit(2)
  }
  // Real server processes, run as `npm start` runs them: the esbuild bundle in dist/.
  execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' })
  const t0 = Date.now()
  const runId = randomBytes(4).toString('hex')
  const baseName = decodeURIComponent(new URL(baseUrl).pathname.slice(1)) || 'postgres'
  const dbName = `${baseName
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40)}_rel_${runId}`
  const relUrl = new URL(baseUrl)
  relUrl.pathname = `/${dbName}`
  const ident = `"${dbName}"`
  mkdirSync(RESULTS_DIR, { recursive: true })

  // Administration happens from a connection to the named database: never to ours, so cutting ours off
  // never cuts this one.
  const admin = new pg.Client({ connectionString: baseUrl })
  admin.on('error', () => {})
  await admin.connect()
  await admin.query(`create database ${ident}`)
  console.log(`reliability: database ${dbName} created on ${new URL(baseUrl).host}`)

  const adminApiKey = randomBytes(24).toString('hex')
  const env = { databaseUrl: relUrl.toString(), adminApiKey, logDir: RESULTS_DIR, root: ROOT }
  const instances = [new Instance('A', await freePort(), env), new Instance('B', await freePort(), env)]
  const A = instances[0]!
  const cleanupSync = () => {
    for (const i of instances) i.killNow()
  }
  process.on('exit', cleanupSync)
  // Past the deadline, or on Ctrl-C: kill the servers, drop the database, fail.
  const abort = async (why: string) => {
    console.error(`reliability: FAILED — ${why}`)
    cleanupSync()
    await dropDatabase().catch(() => {})
    process.exit(1)
  }
  const dropDatabase = async () => {
    if (process.env.RELIABILITY_KEEP_DB === '1') {
      await admin.query(`alter database ${ident} allow_connections true`).catch(() => {})
      console.log(`reliability: kept database ${dbName}`)
      return
    }
    await admin.query(`drop database if exists ${ident} with (force)`)
  }
  const watchdog = setTimeout(() => void abort(`run exceeded ${RUN_DEADLINE_MS} ms`), RUN_DEADLINE_MS)
  watchdog.unref()
  process.once('SIGINT', () => void abort('interrupted'))
  process.once('SIGTERM', () => void abort('terminated'))

  let failures: string[] = []
  let figures: Record<string, unknown> = {}
  try {
    for (const i of instances) i.start()
    await Promise.all(instances.map((i) => i.waitHealthy()))
    const startupMs = Date.now() - t0
    const auth = { authorization: `Bearer ${adminApiKey}` }

    const orgRes = await httpRequest(A.agent, `${A.url}/v1/orgs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `可靠性测试单位 ${runId}`, kind: 'trade_union' }),
    })
    if (orgRes.status !== 201) throw new Error(`creating the org: ${orgRes.status} ${orgRes.body}`)
    const orgId = (JSON.parse(orgRes.body) as { id: string }).id

    const { tasks, ops } = buildTasks(runId, orgId)
    stats.ops = ops
    for (const task of tasks) {
      for (const op of task) {
        if (!keyResults.has(op.key)) {
          keyResults.set(op.key, {
            key: op.key,
            voucher: op.voucher,
            fen: op.fen,
            finals: [],
            ids: new Set(),
            bodiesOk: true,
          })
        }
      }
    }

    // Health monitor: like a load balancer, routes back to an instance once /healthz answers again.
    let monitoring = true
    const monitor = (async () => {
      while (monitoring) {
        await Promise.all(
          instances.map(async (i) => {
            if (!i.running || i.up) return
            const res = await probe(`${i.url}/healthz`, {}, 1_000)
            if (res?.status === 200 && i.running) i.up = true
          }),
        )
        await sleep(200)
      }
    })()

    let rr = 0
    const choose = (avoid?: Instance): Instance | undefined => {
      const up = instances.filter((i) => i.up)
      const preferred = up.filter((i) => i !== avoid)
      const from = preferred.length > 0 ? preferred : up
      if (from.length === 0) return undefined
      return from[rr++ % from.length]
    }

    const createHeaders = (key: string) => ({
      ...auth,
      'content-type': 'application/json',
      'idempotency-key': key,
    })

    async function sendOp(op: Op): Promise<void> {
      const result = keyResults.get(op.key)!
      const started = Date.now()
      let tries = 0
      let backoff = 50
      let fivehundreds = 0
      let avoid: Instance | undefined
      const settle = (status: number) => {
        result.finals.push(status)
        stats.opsSettled++
      }
      for (;;) {
        if (Date.now() - started > OP_DEADLINE_MS) {
          stats.unresolved++
          settle(0)
          return
        }
        const inst = choose(avoid)
        if (!inst) {
          // Every server has crashed: nothing can settle this request; fail now rather than at the deadline.
          if (instances.every((i) => !i.running) && instances.some((i) => i.unexpectedExits.length)) {
            stats.unresolved++
            settle(0)
            return
          }
          await sleep(50)
          continue
        }
        tries++
        stats.requests++
        if (tries > 1) stats.retries++
        const start = Date.now()
        let status: number
        let contentType: string
        let text: string
        let replayed: boolean
        try {
          const res = await httpRequest(inst.agent, `${inst.url}/v1/purchases`, {
            method: 'POST',
            headers: createHeaders(op.key),
            body: op.bodyJson,
            timeoutMs: REQUEST_TIMEOUT_MS,
          })
          text = res.body
          status = res.status
          contentType = res.contentType
          replayed = res.headers['idempotent-replayed'] === 'true'
        } catch {
          // No response: the instance died, the socket broke or the request timed out. The request may or
          // may not have taken effect; the same key and body on the other instance settles it.
          attempts.push({ start, end: Date.now(), status: 'network' })
          stats.networkErrors++
          inst.up = false
          avoid = inst
          continue
        }
        attempts.push({ start, end: Date.now(), status })
        avoid = undefined
        if (status === 201) {
          stats.created201++
          if (replayed) stats.replays++
          try {
            const body = JSON.parse(text) as { id: string; amount: string; external_ref: string }
            result.ids.add(body.id)
            if (body.amount !== formatFen(op.fen) || body.external_ref !== op.key) result.bodiesOk = false
          } catch {
            result.bodiesOk = false
          }
          settle(201)
          return
        }
        let code: string | undefined
        try {
          code = (JSON.parse(text) as { code?: string }).code
        } catch {
          code = undefined
        }
        if (status === 409 && code === 'duplicate_voucher') {
          stats.duplicateVoucher409++
          settle(409)
          return
        }
        if (status === 409 && code === 'idempotency_key_in_use') {
          stats.inUse409++
          await sleep(20 + Math.random() * 30)
          continue
        }
        if (status === 503) {
          stats.unavailable503++
          if (!isServiceUnavailable(contentType, text)) {
            stats.bad503++
            keep(samples.bad503, `${contentType} ${text.slice(0, 300)}`)
          }
          await sleep(backoff * (0.5 + Math.random()))
          backoff = Math.min(backoff * 2, 400)
          continue
        }
        if (status >= 500) {
          stats.internal500++
          keep(samples.internal, `${inst.name}: ${status} ${text.slice(0, 300)}`)
          if (++fivehundreds <= 5) {
            await sleep(100)
            continue
          }
        } else {
          stats.unexpected++
          keep(samples.unexpected, `${inst.name}: ${status} ${text.slice(0, 300)}`)
        }
        settle(status)
        return
      }
    }

    // --- the clients
    let next = 0
    const loadStart = Date.now()
    const clients = Array.from({ length: CLIENTS }, async () => {
      for (;;) {
        const task = tasks[next++]
        if (!task) return
        await Promise.all(task.map(sendOp))
      }
    })
    const clientsDone = Promise.all(clients).then(() => Date.now())
    let loadDone = false
    void clientsDone.then(() => {
      loadDone = true
    })

    const progressAt = async (fraction: number) => {
      while (!loadDone && stats.opsSettled < fraction * ops) await sleep(10)
    }

    // --- the chaos, on a schedule tied to progress
    const chaosLog: string[] = []
    const note = (s: string) => {
      const line = `+${((Date.now() - loadStart) / 1000).toFixed(1)}s ${s}`
      chaosLog.push(line)
      console.log(`  ${line}`)
    }
    const terminate = async (): Promise<number> => {
      const res = await admin.query(
        'select pg_terminate_backend(pid) as t from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [dbName],
      )
      return res.rowCount ?? 0
    }
    const readyProbes: { instance: string; at: number; status: number | 'network'; ok503: boolean }[] = []
    const apiProbes: { instance: string; status: number | 'network'; ok503: boolean }[] = []
    const chaos = {
      killedAt: 0,
      restartedAt: 0,
      stormTerminated: 0,
      outageStart: 0,
      outageEnd: 0,
      readyRecoveredMs: -1,
      writeRecoveredMs: -1,
      missed: [] as string[],
    }

    const chaosDone = (async () => {
      // 2. kill -9 one instance while requests are in flight, then start it again.
      await progressAt(0.15)
      if (loadDone) chaos.missed.push('kill')
      await A.kill9()
      chaos.killedAt = Date.now()
      note(`kill -9 instance A (pid gone); clients retry on B`)
      // Started again in the background (a slow start must not hold up the rest of the schedule); it is
      // back before the outage, so both instances are checked during it.
      await progressAt(0.25)
      A.start()
      const restarted = A.waitHealthy().then(() => {
        chaos.restartedAt = Date.now()
        note(`instance A started again (${chaos.restartedAt - chaos.killedAt} ms after the kill)`)
      })

      // 3a. connection storm: terminate every backend of ours, repeatedly.
      await progressAt(0.45)
      if (loadDone) chaos.missed.push('storm')
      const stormEnd = Date.now() + STORM_MS
      while (Date.now() < stormEnd) {
        chaos.stormTerminated += await terminate()
        await sleep(150)
      }
      note(`terminated ${chaos.stormTerminated} backends over ${STORM_MS} ms`)

      // 3b. outage: the database refuses connections, and the ones open are cut.
      await progressAt(0.6)
      await restarted
      if (loadDone) chaos.missed.push('outage')
      await admin.query(`alter database ${ident} allow_connections false`)
      await terminate()
      chaos.outageStart = Date.now()
      note('database refuses connections (ALLOW_CONNECTIONS false, backends terminated)')
      const outageUntil = chaos.outageStart + OUTAGE_MS
      while (Date.now() < outageUntil) {
        await terminate()
        await Promise.all(
          instances.map(async (i) => {
            const at = Date.now()
            const ready = await probe(`${i.url}/readyz`, {}, 5_000)
            if (Date.now() < outageUntil) {
              readyProbes.push({
                instance: i.name,
                at,
                status: ready?.status ?? 'network',
                ok503: ready?.status === 503 && isServiceUnavailable(ready.contentType, ready.body),
              })
            }
            const api = await probe(`${i.url}/v1/purchases?limit=1`, auth, 5_000)
            if (Date.now() < outageUntil) {
              apiProbes.push({
                instance: i.name,
                status: api?.status ?? 'network',
                ok503: api?.status === 503 && isServiceUnavailable(api.contentType, api.body),
              })
            }
          }),
        )
        await sleep(150)
      }
      chaos.outageEnd = Date.now()
      await admin.query(`alter database ${ident} allow_connections true`)
      note(`database accepts connections again after ${chaos.outageEnd - chaos.outageStart} ms`)

      // Recovery: every instance ready again, and a create acknowledged, with no restart.
      const back = Date.now()
      const recoveryDeadline = back + 30_000
      while (Date.now() < recoveryDeadline) {
        const states = await Promise.all(instances.map((i) => probe(`${i.url}/readyz`, {}, 1_000)))
        if (states.every((s) => s?.status === 200)) {
          chaos.readyRecoveredMs = Date.now() - back
          break
        }
        await sleep(25)
      }
      while (Date.now() < recoveryDeadline && !loadDone) {
        const first = attempts.find((a) => a.start >= back && a.status === 201)
        if (first) {
          chaos.writeRecoveredMs = first.end - back
          break
        }
        await sleep(10)
      }
      note(
        `recovered: /readyz 200 on all instances after ${chaos.readyRecoveredMs} ms, first create acknowledged after ${chaos.writeRecoveredMs} ms`,
      )
    })()

    const [loadEnd] = await Promise.all([clientsDone, chaosDone])
    monitoring = false
    await monitor
    const loadMs = loadEnd - loadStart

    const serverCpuSeconds = instances.map((i) => i.cpuSeconds())
    const driverCpu = process.cpuUsage()
    // Stop the servers (gracefully) before checking, so nothing is in flight.
    await Promise.all(instances.map((i) => i.stop()))

    // --- verification, against the database directly
    const verifyClient = new pg.Client({ connectionString: relUrl.toString() })
    await verifyClient.connect()
    let v: Awaited<ReturnType<typeof verifyDatabase>>
    try {
      v = await verifyDatabase(verifyClient, [...keyResults.values()])
    } finally {
      await verifyClient.end()
    }

    // --- figures and checks
    const inWindow = attempts.filter(
      (a) => a.start >= chaos.outageStart && a.end <= chaos.outageEnd && chaos.outageStart > 0,
    )
    const windowNon503 = inWindow.filter((a) => a.status !== 503 && a.status !== 'network')
    const ready503 = readyProbes.filter((p) => p.ok503).length
    const api503 = apiProbes.filter((p) => p.ok503).length
    const crashes = instances.flatMap((i) => i.unexpectedExits)
    const recoveryMs = Math.max(chaos.readyRecoveredMs, chaos.writeRecoveredMs)

    figures = {
      database: dbName,
      creates: CREATES,
      clients: CLIENTS,
      ops: stats.ops,
      requests: stats.requests,
      retries: stats.retries,
      network_errors: stats.networkErrors,
      replays: stats.replays,
      acknowledged: v.acknowledged,
      acknowledged_amount: formatFen(v.acknowledgedFen),
      stored: v.stored,
      stored_amount: formatFen(v.storedFen),
      rollup_amount: formatFen(v.rollupFen),
      lost: v.lost.length,
      duplicated: v.duplicated.length,
      phantom: v.phantom.length,
      duplicate_voucher_409: stats.duplicateVoucher409,
      idempotency_in_use_409: stats.inUse409,
      unavailable_503: stats.unavailable503,
      malformed_503: stats.bad503,
      internal_500: stats.internal500,
      unexpected_status: stats.unexpected,
      unresolved: stats.unresolved,
      readyz_503_during_outage: ready503,
      readyz_probes_during_outage: readyProbes.length,
      api_503_during_outage: api503,
      api_probes_during_outage: apiProbes.length,
      creates_during_outage: inWindow.length,
      creates_during_outage_not_503: windowNon503.length,
      storm_backends_terminated: chaos.stormTerminated,
      recovery_ms: recoveryMs,
      readyz_recovery_ms: chaos.readyRecoveredMs,
      write_recovery_ms: chaos.writeRecoveredMs,
      crashes,
      startup_ms: startupMs,
      server_cpu_s: serverCpuSeconds,
      driver_cpu_s: Math.round((driverCpu.user + driverCpu.system) / 1e4) / 100,
      load_ms: loadMs,
      requests_per_second: Math.round((stats.requests / loadMs) * 1000),
      chaos: chaosLog,
    }

    failures = [...v.failures]
    if (v.lost.length) failures.push(`${v.lost.length} acknowledged record(s) lost: ${v.lost.slice(0, 5)}`)
    if (v.duplicated.length)
      failures.push(`${v.duplicated.length} key(s) stored twice: ${v.duplicated.slice(0, 5)}`)
    if (v.phantom.length) failures.push(`${v.phantom.length} record(s) stored but never acknowledged`)
    if (stats.internal500)
      failures.push(`${stats.internal500} response(s) 500: ${samples.internal.join(' | ')}`)
    if (stats.bad503) failures.push(`${stats.bad503} 503(s) not service_unavailable problem+json`)
    if (stats.unexpected)
      failures.push(`${stats.unexpected} unexpected status(es): ${samples.unexpected.join(' | ')}`)
    if (stats.unresolved)
      failures.push(`${stats.unresolved} request(s) never settled within ${OP_DEADLINE_MS} ms`)
    if (crashes.length) failures.push(`instance crash(es): ${crashes.join('; ')}`)
    if (chaos.missed.length)
      failures.push(`load finished before: ${chaos.missed.join(', ')} (raise RELIABILITY_CREATES)`)
    if (v.acknowledged < CREATES * 0.9) failures.push(`only ${v.acknowledged} creates acknowledged`)
    if (stats.networkErrors === 0)
      failures.push('the kill -9 left no request unanswered (nothing was retried)')
    if (stats.replays === 0) failures.push('no replay was seen')
    if (stats.duplicateVoucher409 === 0) failures.push('no duplicate_voucher 409 was seen')
    if (stats.unavailable503 === 0) failures.push('no 503 was seen while the database was cut')
    // Every instance must have been seen answering 503 problem+json on /readyz and on the API while the
    // database was gone, and nothing else (a probe with no answer in 5 s proves nothing either way).
    for (const i of instances) {
      if (!readyProbes.some((p) => p.instance === i.name && p.ok503))
        failures.push(`/readyz of ${i.name} never seen answering 503 during the outage`)
      if (!apiProbes.some((p) => p.instance === i.name && p.ok503))
        failures.push(`API of ${i.name} never seen answering 503 during the outage`)
    }
    const badProbes = [...readyProbes, ...apiProbes].filter((p) => !p.ok503 && p.status !== 'network')
    if (badProbes.length)
      failures.push(
        `answers other than 503 problem+json during the outage: ${badProbes.map((p) => `${p.instance}:${p.status}`)}`,
      )
    if (windowNon503.length)
      failures.push(
        `${windowNon503.length} create(s) during the outage answered other than 503: ${[...new Set(windowNon503.map((a) => a.status))]}`,
      )
    if (chaos.readyRecoveredMs < 0) failures.push('/readyz did not recover within 30 s')
    if (chaos.writeRecoveredMs < 0) failures.push('no create was acknowledged after the outage')
    if (failures.length && instances.some((i) => i.errorLines.length)) {
      console.error('server error log lines:')
      for (const line of instances.flatMap((i) => i.errorLines).slice(0, 20))
        console.error(`  ${line.slice(0, 2000)}`)
    }
  } finally {
    clearTimeout(watchdog)
    for (const i of instances) await i.stop().catch(() => i.killNow())
    await dropDatabase().catch((err: Error) => {
      console.error(`reliability: could not drop ${dbName}: ${err.message}`)
    })
    await admin.end().catch(() => {})
  }

  printTable(figures)
  const totalMs = Date.now() - t0
  const report = { ...figures, total_ms: totalMs, ok: failures.length === 0, failures }
  writeFileSync(join(RESULTS_DIR, 'reliability.json'), `${JSON.stringify(report, null, 2)}\n`)
  for (const f of failures) console.error(`FAIL: ${f}`)
  const summary = `${figures.acknowledged} acknowledged, ${figures.stored} stored, ${figures.lost} lost, ${figures.duplicated} duplicated, ${figures.unavailable_503} × 503, ${figures.internal_500} × 500, recovery ${figures.recovery_ms} ms, ${(totalMs / 1000).toFixed(1)} s`
  if (failures.length) {
    console.error(`reliability: FAILED (${failures.length} problem(s)) — ${summary}`)
    process.exit(1)
  }
  console.log(`reliability: PASSED — ${summary}`)
  process.exit(0)
}

function printTable(figures: Record<string, unknown>) {
  const rows: [string, string][] = [
    ['requests (HTTP attempts)', 'requests'],
    ['logical sends', 'ops'],
    ['retries', 'retries'],
    ['  of which unanswered', 'network_errors'],
    ['replays', 'replays'],
    ['acknowledged (distinct keys)', 'acknowledged'],
    ['stored (active records)', 'stored'],
    ['acknowledged amount', 'acknowledged_amount'],
    ['stored amount', 'stored_amount'],
    ['rollup amount', 'rollup_amount'],
    ['lost', 'lost'],
    ['duplicated', 'duplicated'],
    ['stored, never acknowledged', 'phantom'],
    ['409 duplicate_voucher', 'duplicate_voucher_409'],
    ['503 service_unavailable', 'unavailable_503'],
    ['500', 'internal_500'],
    ['/readyz 503 during outage', 'readyz_503_during_outage'],
    ['recovery ms', 'recovery_ms'],
    ['load ms', 'load_ms'],
    ['requests/s', 'requests_per_second'],
  ].map(([label, key]) => [label!, String(figures[key!] ?? '-')])
  const w = Math.max(...rows.map(([l]) => l.length))
  console.log('')
  for (const [label, value] of rows) console.log(`  ${label.padEnd(w)}  ${value.padStart(20)}`)
  console.log('')
}

main().catch((err) => {
  console.error(`reliability: FAILED — ${(err as Error).stack ?? err}`)
  process.exit(1)
})
