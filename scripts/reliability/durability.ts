/**
 * Issue 14, acceptance 1: an acknowledged write on the embedded default is on disk before its 201.
 *
 * The server runs as `npm start` runs it (the bundle, no DATABASE_URL, a scratch DATA_DIR) under
 * `strace -f`, which follows the PostgreSQL server it starts. 16 writers send DURABILITY_WRITES creates
 * (default 1 000); each answer's window (request sent → answer received) is recorded. The check, per
 * acknowledged write: inside its window a PostgreSQL process wrote WAL and then fdatasync'ed that WAL
 * segment (see flushes.ts for why that is the right, necessary condition). Then a control burst with
 * `synchronous_commit = off` for the service's sessions must FAIL that check for some writes — proof the
 * probe tells a flushed acknowledgement from one that is not. Finally every acknowledged record is looked up
 * in the database.
 */
import { join } from 'node:path'
import { freePort, onCleanup, sleep } from '../lib/processes.js'
import { createOrg, scratchDir, withEmbeddedClient } from './embedded-db.js'
import {
  classify,
  type Flushes,
  flushedWithin,
  parseStrace,
  straceWrapper,
  type Window,
  within,
} from './flushes.js'
import { Instance } from './instance.js'
import { verifyDatabase } from './verify.js'
import { makeOp, type Op } from './workload.js'
import { acknowledged, postCreate } from './writer.js'

const WRITES = Number(process.env.DURABILITY_WRITES ?? 1_000)
const CONTROL_WRITES = 300
const WRITERS = 16

type Acks = Map<string, { op: Op; id: string }>

interface Burst {
  /** Windows of the requests that committed (fresh 201s, not replays). */
  windows: Window[]
  retried: number
  unexpected: string[]
}

/** Sends every op until acknowledged (a 503 or a lost answer is sent again), WRITERS at a time. */
async function burst(inst: Instance, auth: Record<string, string>, ops: Op[], acks: Acks): Promise<Burst> {
  const result: Burst = { windows: [], retried: 0, unexpected: [] }
  let next = 0
  const writer = async () => {
    for (let op = ops[next++]; op; op = ops[next++]) {
      const deadline = Date.now() + 60_000
      for (;;) {
        const a = await postCreate(inst, auth, op)
        if (a.status === 201) {
          acks.set(op.key, { op, id: a.id! })
          if (!a.replayed) result.windows.push(a)
          break
        }
        if ((a.status !== 503 && a.status !== 'network') || Date.now() > deadline) {
          result.unexpected.push(`${op.key}: ${a.status} ${a.body.slice(0, 200)}`)
          break
        }
        result.retried++
        await sleep(100)
      }
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, writer))
  return result
}

/** Ends the service's pooled sessions (not the owner's lock session): the pool opens new ones. */
async function renewServiceSessions(dataDir: string): Promise<void> {
  await withEmbeddedClient(dataDir, (c) =>
    c.query(`select pg_terminate_backend(pid) from pg_stat_activity
              where backend_type = 'client backend' and pid <> pg_backend_pid()
                and pid not in (select pid from pg_locks where locktype = 'advisory')`),
  )
  await sleep(500)
}

/** Runs `fn` while the service's new sessions commit without waiting for their flush. */
async function withoutSynchronousCommit<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  await withEmbeddedClient(dataDir, (c) => c.query('alter role current_user set synchronous_commit = off'))
  await renewServiceSessions(dataDir)
  try {
    return await fn()
  } finally {
    await withEmbeddedClient(dataDir, (c) => c.query('alter role current_user reset synchronous_commit'))
    await renewServiceSessions(dataDir)
  }
}

async function durabilitySettings(dataDir: string): Promise<Record<string, string>> {
  const { rows } = await withEmbeddedClient(dataDir, (c) =>
    c.query<{ name: string; setting: string }>(
      `select name, setting from pg_settings
        where name in ('fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes', 'io_method')`,
    ),
  )
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]))
}

const EXPECTED_SETTINGS: Record<string, string> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  // The probe looks for fdatasync on WAL; io_method=sync keeps the flushes in the backends, visible to strace.
  wal_sync_method: 'fdatasync',
  io_method: 'sync',
}

/** What strace saw during one burst. */
function flushFigures(f: Flushes, b: Burst) {
  const from = Math.min(...b.windows.map((w) => w.sent))
  const to = Math.max(...b.windows.map((w) => w.answered))
  const walFlushes = within(f.walFlushes, from, to).length
  return {
    commits_acknowledged: b.windows.length,
    wal_writes: within(f.walWrites, from, to).length,
    wal_flushes: walFlushes,
    other_flushes: within(f.otherFlushes, from, to).length,
    acks_per_wal_flush: Math.round((b.windows.length / Math.max(walFlushes, 1)) * 100) / 100,
    acks_without_flush: b.windows.filter((w) => !flushedWithin(f, w)).length,
    seconds: Math.round(to - from) / 1000,
  }
}

export async function runDurability(o: { runId: string; adminApiKey: string; logDir: string }) {
  const dir = scratchDir('durability-')
  const dataDir = join(dir, 'data')
  const traceFile = join(dir, 'strace.txt')
  const inst = new Instance('durability', await freePort(), {
    dataDir,
    adminApiKey: o.adminApiKey,
    logDir: o.logDir,
    wrapper: straceWrapper(traceFile),
  })
  onCleanup('stop the durability server', () => inst.stop())
  inst.start()
  await inst.waitHealthy(120_000)
  const auth = { authorization: `Bearer ${o.adminApiKey}` }
  const orgId = await createOrg(inst.url, o.adminApiKey, `持久性测试单位 ${o.runId}`)
  const settings = await durabilitySettings(dataDir)
  const ops = (n: number, tag: string) =>
    Array.from({ length: n }, (_, i) =>
      makeOp(`dur-${o.runId}-${tag}${i}`, 'original', `D${o.runId}${tag}${i}`, orgId),
    )
  const acks: Acks = new Map()
  const main = await burst(inst, auth, ops(WRITES, 'm'), acks)
  const control = await withoutSynchronousCommit(dataDir, () =>
    burst(inst, auth, ops(CONTROL_WRITES, 'c'), acks),
  )
  await inst.stop()
  const flushes = classify(parseStrace(traceFile))
  const verification = await withEmbeddedClient(dataDir, (c) => verifyDatabase(c, acknowledged(acks)))
  const figures = {
    settings,
    writes: WRITES,
    acknowledged: acks.size,
    retried: main.retried + control.retried,
    ...flushFigures(flushes, main),
    control: flushFigures(flushes, control),
    whole_trace: {
      wal_flushes: flushes.walFlushes.length,
      other_flushes: flushes.otherFlushes.length,
    },
    stored: verification.stored,
    lost: verification.lost.length,
    duplicated: verification.duplicated.length,
  }
  return { figures, failures: durabilityFailures(figures, settings, [main, control], verification.failures) }
}

function durabilityFailures(
  figures: ReturnType<typeof flushFigures> & {
    control: ReturnType<typeof flushFigures>
    acknowledged: number
  },
  settings: Record<string, string>,
  bursts: Burst[],
  verificationFailures: string[],
): string[] {
  const failures = [...verificationFailures]
  for (const [name, want] of Object.entries(EXPECTED_SETTINGS))
    if (settings[name] !== want) failures.push(`${name} is ${settings[name]}, expected ${want}`)
  for (const b of bursts)
    if (b.unexpected.length) failures.push(`unexpected answers: ${b.unexpected.slice(0, 5).join(' | ')}`)
  if (figures.acknowledged !== WRITES + CONTROL_WRITES)
    failures.push(`${figures.acknowledged} of ${WRITES + CONTROL_WRITES} writes acknowledged`)
  if (figures.wal_flushes === 0) failures.push('strace saw no WAL flush while writes were acknowledged')
  if (figures.acks_without_flush > 0)
    failures.push(
      `${figures.acks_without_flush} acknowledged write(s) had no WAL write + flush before their 201`,
    )
  if (figures.control.acks_without_flush === 0)
    failures.push(
      'the control run (synchronous_commit off) passed the flush check too: the probe proves nothing',
    )
  return failures
}
