/**
 * Issue 14, acceptance 3: the embedded default on a full disk.
 *
 *   npm run test:disk-full        # as root: it mounts a tmpfs (skipped, with a message, where it cannot)
 *
 * DATA_DIR is a 64 MiB tmpfs. The server (`npm start`'s bundle, no DATABASE_URL) starts on it; a file takes
 * most of the space left, then 16 writers send creates until the disk is full, and on for a while after.
 * Meanwhile: every write is answered 201 or 503 service_unavailable problem+json with Retry-After — never
 * 500, never left hanging (30 s bound); reads and /readyz are answered (200, or 503 while PostgreSQL is
 * down); /healthz answers 200 within a second; the log names the cause ("No space left on device").
 * Then the tmpfs grows to 256 MiB: without a restart, writes are acknowledged again; every refused key is
 * sent again and acknowledged; the database holds exactly the acknowledged records (verify.ts) and its
 * indexes pass amcheck. Last, the server is stopped, the disk filled to the brim and the server started
 * again: it must start, or exit saying why.
 * Figures go to stdout and bench-results/disk-full.json; the exit status is non-zero on any failure.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readFileSync, statfsSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { probe } from '../lib/http.js'
import {
  buildBundle,
  cleanupAll,
  freePort,
  installSignalHandlers,
  onCleanup,
  sleep,
} from '../lib/processes.js'
import { RESULTS_DIR, writeResultsFile } from '../lib/results.js'
import { checkIndexes, createOrg, scratchDir, withEmbeddedClient } from './embedded-db.js'
import { Instance } from './instance.js'
import { verifyDatabase } from './verify.js'
import { makeOp, type Op } from './workload.js'
import { type Answer, acknowledged, postCreate } from './writer.js'

const SIZE = '64m'
const GROWN = '256m'
const GROWN_AGAIN = '512m'
/** Space left free by the filler file before the writers start. */
const LEAVE_FREE = 6 * 1024 * 1024
const WRITERS = 16
/** How long the writers go on once the disk is full. */
const FULL_MS = 8_000
const ANSWER_BOUND_MS = 30_000
const CAUSE = /No space left on device/

type Acks = Map<string, { op: Op; id: string }>

/** Mounts a tmpfs of `size` on `dir`, unmounted at cleanup; false when this machine does not allow it. */
function mountTmpfs(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    console.log(`disk-full: SKIPPED — cannot mount a tmpfs (root needed): ${(err as Error).message.trim()}`)
    return false
  }
  onCleanup(`unmount ${dir}`, async () => {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' })
    } catch {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
    }
  })
  return true
}

const resize = (dir: string, size: string) => execFileSync('mount', ['-o', `remount,size=${size}`, dir])
const freeBytes = (dir: string) => {
  const s = statfsSync(dir)
  return s.bavail * s.bsize
}

/** Fills `dir` with a file until `leave` bytes are free (0: until the disk refuses). */
function fill(dir: string, name: string, leave: number) {
  const fd = openSync(join(dir, name), 'a')
  const chunk = Buffer.alloc(1024 * 1024)
  try {
    for (let free = freeBytes(dir); free > leave; free = freeBytes(dir))
      writeSync(fd, chunk, 0, Math.min(chunk.length, free - leave))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    closeSync(fd)
  }
}

interface Observed {
  writes: Answer[]
  reads: { status: number | 'network'; ms: number }[]
  readyz: { status: number | 'network'; ms: number }[]
  healthz: { status: number | 'network'; ms: number }[]
  refused: Op[]
  fullAt?: number
}

/** Writers send fresh creates until the disk has been full for FULL_MS (or 120 s pass without it filling). */
async function fillWithWrites(
  inst: Instance,
  auth: Record<string, string>,
  ops: () => Op,
  acks: Acks,
  o: Observed,
) {
  const deadline = Date.now() + 120_000
  const done = () => (o.fullAt ? Date.now() > o.fullAt + FULL_MS : Date.now() > deadline)
  const writer = async () => {
    while (!done()) {
      const op = ops()
      const a = await postCreate(inst, auth, op, ANSWER_BOUND_MS)
      o.writes.push(a)
      if (a.status === 201) acks.set(op.key, { op, id: a.id! })
      else {
        o.refused.push(op)
        o.fullAt ??= Date.now()
        await sleep(100)
      }
    }
  }
  const probes = async () => {
    while (!done()) {
      await probeOnce(inst, auth, o)
      await sleep(250)
    }
  }
  await Promise.all([...Array.from({ length: WRITERS }, writer), probes()])
}

async function timed(url: string, headers: Record<string, string> = {}) {
  const start = Date.now()
  const res = await probe(url, headers, ANSWER_BOUND_MS)
  return { status: res?.status ?? ('network' as const), ms: Date.now() - start }
}

async function probeOnce(inst: Instance, auth: Record<string, string>, o: Observed) {
  const [health, ready, read] = await Promise.all([
    timed(`${inst.url}/healthz`),
    timed(`${inst.url}/readyz`),
    timed(`${inst.url}/v1/totals?year=2024`, auth),
  ])
  o.healthz.push(health)
  o.readyz.push(ready)
  o.reads.push(read)
}

/** After the disk grows: the first acknowledged write, then every refused key again until acknowledged. */
async function recover(inst: Instance, auth: Record<string, string>, refused: Op[], acks: Acks) {
  const grownAt = Date.now()
  let firstAckMs = -1
  let next = 0
  const unresolved: string[] = []
  const writer = async () => {
    for (let op = refused[next++]; op; op = refused[next++]) {
      for (;;) {
        const a = await postCreate(inst, auth, op, ANSWER_BOUND_MS)
        if (a.status === 201) {
          acks.set(op.key, { op, id: a.id! })
          if (firstAckMs < 0) firstAckMs = Date.now() - grownAt
          break
        }
        if (Date.now() - grownAt > 60_000) {
          unresolved.push(`${op.key}: ${a.status}`)
          break
        }
        await sleep(200)
      }
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, writer))
  return { firstAckMs, unresolved }
}

/** Starts a second server on a disk filled to the brim: it must start, or say why it cannot. */
async function startOnFullDisk(inst: Instance, dataDir: string) {
  await inst.stop()
  fill(dataDir, 'filler-2', 0)
  inst.start()
  try {
    await inst.waitHealthy(60_000)
    return { started: true, said: '' }
  } catch {
    return { started: false, said: readFileSync(inst.logFiles.at(-1)!, 'utf8').trim() }
  }
}

const count = <T>(items: T[], test: (t: T) => boolean) => items.filter(test).length
const slowest = (items: { ms: number }[]) => Math.max(0, ...items.map((i) => i.ms))
const statuses = (xs: { status: number | 'network' }[]) => {
  const byStatus: Record<string, number> = {}
  for (const x of xs) byStatus[x.status] = (byStatus[x.status] ?? 0) + 1
  return byStatus
}

function phaseFigures(o: Observed, recovery: Awaited<ReturnType<typeof recover>>, causeLines: string[]) {
  return {
    writes: statuses(o.writes),
    writes_503_problem: count(o.writes, (w) => w.problem503),
    retry_after: [...new Set(o.writes.filter((w) => w.status === 503).map((w) => w.retryAfter))],
    slowest_write_ms: Math.round(Math.max(0, ...o.writes.map((w) => w.answered - w.sent))),
    reads: statuses(o.reads),
    slowest_read_ms: slowest(o.reads),
    readyz: statuses(o.readyz),
    healthz: statuses(o.healthz),
    slowest_healthz_ms: slowest(o.healthz),
    refused_then_resent: o.refused.length,
    first_ack_after_space_returned_ms: recovery.firstAckMs,
    cause_lines_logged: causeLines.length,
    cause_example: causeLines[0]?.slice(0, 300),
  }
}

function phaseFailures(o: Observed, recovery: Awaited<ReturnType<typeof recover>>, causeLines: string[]) {
  const failures: string[] = []
  if (!o.fullAt) failures.push('the disk never filled: no write was refused within 120 s')
  const bad = o.writes.filter((w) => w.status !== 201 && !w.problem503)
  if (bad.length)
    failures.push(
      `${bad.length} write(s) answered other than 201 or 503 problem+json: ${bad.slice(0, 3).map((w) => `${w.status} ${w.body.slice(0, 200)}`)}`,
    )
  if (o.writes.some((w) => w.status === 503 && !w.retryAfter)) failures.push('a 503 without Retry-After')
  const badReads = [...o.reads, ...o.readyz].filter((r) => r.status !== 200 && r.status !== 503)
  if (badReads.length) failures.push(`reads or /readyz answered ${badReads.map((r) => r.status)}`)
  const slowHealth = o.healthz.filter((h) => h.status !== 200 || h.ms > 1_000)
  if (slowHealth.length) failures.push(`/healthz not 200 within 1 s, ${slowHealth.length} time(s)`)
  if (!causeLines.length) failures.push('the log does not name the cause ("No space left on device")')
  if (recovery.firstAckMs < 0) failures.push('no write acknowledged within 60 s of space returning')
  if (recovery.unresolved.length) failures.push(`refused keys never acknowledged: ${recovery.unresolved}`)
  return failures
}

interface Run {
  inst: Instance
  auth: Record<string, string>
  dataDir: string
  ops: () => Op
  acks: Acks
}

/**
 * One full disk: `makeFull`, writers until it has been full FULL_MS, then the disk grows to `grow` and the
 * refused keys are sent again — all on the same server process.
 */
async function fullDisk(run: Run, name: string, makeFull: () => Promise<void>, grow: string) {
  const { inst, auth, dataDir } = run
  const logFrom = readFileSync(inst.logFiles[0]!, 'utf8').length
  await makeFull()
  console.log(
    `disk-full (${name}): ${(freeBytes(dataDir) / 2 ** 20).toFixed(1)} MiB free; writing until full`,
  )
  const o: Observed = { writes: [], reads: [], readyz: [], healthz: [], refused: [] }
  await fillWithWrites(inst, auth, run.ops, run.acks, o)
  console.log(
    `disk-full (${name}): ${count(o.writes, (w) => w.status === 201)} acknowledged, ${o.refused.length} refused; disk grows to ${grow}`,
  )
  resize(dataDir, grow)
  const recovery = await recover(inst, auth, o.refused, run.acks)
  const causeLines = readFileSync(inst.logFiles[0]!, 'utf8')
    .slice(logFrom)
    .split('\n')
    .filter((l) => CAUSE.test(l))
  const failures = phaseFailures(o, recovery, causeLines).map((f) => `${name}: ${f}`)
  return { figures: phaseFigures(o, recovery, causeLines), failures }
}

/** Fills the disk to `leave` bytes free, then makes the next commit need a new WAL segment. */
async function walCannotGrow(dataDir: string, leave: number) {
  fill(dataDir, 'filler-wal', leave)
  await withEmbeddedClient(dataDir, (c) => c.query('select pg_switch_wal()'))
}

async function main() {
  buildBundle()
  installSignalHandlers(undefined, 1)
  mkdirSync(RESULTS_DIR, { recursive: true })
  const t0 = Date.now()
  const runId = randomBytes(4).toString('hex')
  const adminApiKey = randomBytes(24).toString('hex')
  const dataDir = join(scratchDir('disk-full-'), 'data')
  if (!mountTmpfs(dataDir, SIZE)) return
  const inst = new Instance('disk-full', await freePort(), { dataDir, adminApiKey, logDir: RESULTS_DIR })
  onCleanup('stop the server', () => inst.stop())
  inst.start()
  await inst.waitHealthy(120_000)
  const auth = { authorization: `Bearer ${adminApiKey}` }
  const orgId = await createOrg(inst.url, adminApiKey, `磁盘测试单位 ${runId}`)
  let n = 0
  const ops = () => makeOp(`full-${runId}-${n}`, 'original', `F${runId}${n++}`, orgId)
  const run: Run = { inst, auth, dataDir, ops, acks: new Map() }
  // First the tables cannot grow (PostgreSQL refuses the statement), then the WAL cannot (it PANICs,
  // restarts, and cannot finish its recovery until there is space).
  const tables = await fullDisk(run, 'tables', async () => fill(dataDir, 'filler', LEAVE_FREE), GROWN)
  const wal = await fullDisk(run, 'wal', () => walCannotGrow(dataDir, 1024 * 1024), GROWN_AGAIN)
  const restartsDuringRun = inst.unexpectedExits.length > 0 || inst.generation > 1
  const { verification, indexes } = await withEmbeddedClient(dataDir, async (c) => ({
    verification: await verifyDatabase(c, acknowledged(run.acks)),
    indexes: await checkIndexes(c),
  }))
  console.log('disk-full: starting a server on a disk filled to the brim')
  const fullStart = await startOnFullDisk(inst, dataDir)
  const figures = {
    tables: tables.figures,
    wal: wal.figures,
    acknowledged: run.acks.size,
    stored: verification.stored,
    lost: verification.lost.length,
    duplicated: verification.duplicated.length,
    indexes_checked: indexes,
    start_on_full_disk: fullStart.started ? 'started' : fullStart.said.slice(0, 400),
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  }
  const failures = [...tables.failures, ...wal.failures, ...verification.failures]
  if (restartsDuringRun) failures.push('the server exited during the run (recovery must need no restart)')
  if (!fullStart.started && !CAUSE.test(fullStart.said))
    failures.push(`a start on a full disk failed without naming the cause: ${fullStart.said.slice(0, 300)}`)
  console.log(JSON.stringify(figures, null, 2))
  writeResultsFile('disk-full.json', { ...figures, ok: failures.length === 0, failures })
  for (const f of failures) console.error(`FAIL: ${f}`)
  if (failures.length) throw new Error(`${failures.length} problem(s)`)
  console.log(
    `disk-full: PASSED — tables full: ${tables.figures.writes_503_problem} × 503, WAL full: ${wal.figures.writes_503_problem} × 503, ` +
      `0 × 500; writes back ${tables.figures.first_ack_after_space_returned_ms} / ${wal.figures.first_ack_after_space_returned_ms} ms ` +
      `after space returned, no restart; ${run.acks.size} acknowledged = ${verification.stored} stored; ${figures.seconds} s`,
  )
}

main()
  .then(
    () => cleanupAll(),
    async (err) => {
      console.error(`disk-full: FAILED — ${(err as Error).stack ?? err}`)
      await cleanupAll()
      process.exitCode = 1
    },
  )
  .then(() => process.exit())
