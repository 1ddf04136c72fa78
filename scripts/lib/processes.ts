/**
 * The process harness the bench and the reliability run share: a free port, the server bundle started as
 * `npm start` starts it, readiness, stopping, and a cleanup registry that releases children and databases
 * in reverse order on success, failure and Ctrl-C. Children started with `guard` also load `guard.mjs`,
 * which stops them when this process's IPC channel closes, so even a killed harness leaves no server behind.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { probe } from './http.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const GUARD = fileURLToPath(new URL('./guard.mjs', import.meta.url))

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for the server to take). */
export async function freePort(): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address() as { port: number }
  srv.close()
  await once(srv, 'close')
  return port
}

/** `npm run build`: the esbuild bundle `npm start` runs (dist/server.mjs). */
export function buildBundle(): void {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
}

/**
 * The node flags `npm start` gives the server (package.json's start script, e.g. the heap cap), so the
 * harness runs the process users run.
 */
export function startNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
  const m = /\bnode\s+(.*?)\s*dist\/server\.mjs/.exec(pkg.scripts.start)
  if (!m) throw new Error(`cannot find "node … dist/server.mjs" in the start script: ${pkg.scripts.start}`)
  return m[1]!.split(/\s+/).filter(Boolean)
}

/** Node's arguments for the bundle as `npm start` runs it, with `extraNodeArgs` after the start flags. */
export function bundleArgs(extraNodeArgs: string[] = []): string[] {
  return [...startNodeFlags(), ...extraNodeArgs, 'dist/server.mjs']
}

/** Where a child listens: `port` on 127.0.0.1. */
export function listenEnv(port: number): Record<string, string> {
  return { PORT: String(port), HOST: '127.0.0.1' }
}

/**
 * The server's environment for a harness run: warnings-only logging and no rate limit; PostgreSQL at
 * `databaseUrl`, or the embedded default in `dataDir` (then leave DATABASE_URL out of what the child inherits).
 */
export function serverEnv(
  o: { adminApiKey: string; poolMax?: number } & ({ databaseUrl: string } | { dataDir: string }),
): Record<string, string> {
  return {
    ...('databaseUrl' in o ? { DATABASE_URL: o.databaseUrl } : { DATA_DIR: o.dataDir }),
    ADMIN_API_KEY: o.adminApiKey,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '0',
    ...(o.poolMax === undefined ? {} : { PG_POOL_MAX: String(o.poolMax) }),
  }
}

// ---------------------------------------------------------------------------------------------- cleanup

type Cleanup = { name: string; run: () => Promise<void> }
const cleanups: Cleanup[] = []
const children = new Set<ChildProcess>()
let cleaning: Promise<void> | undefined

/** Registers a release step; returns a function that runs it early (and unregisters it). */
export function onCleanup(name: string, run: () => Promise<void>): () => Promise<void> {
  const entry = { name, run }
  cleanups.push(entry)
  return async () => {
    const i = cleanups.indexOf(entry)
    if (i < 0) return
    cleanups.splice(i, 1)
    await run()
  }
}

/** Runs every registered release step once, newest first; errors are reported, never thrown. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const c = cleanups.pop()!
      try {
        await c.run()
      } catch (err) {
        console.error(`cleanup ${c.name}: ${(err as Error).message}`)
      }
    }
  })()
  return cleaning
}

/**
 * Ctrl-C / SIGTERM: `announce`, clean up, then exit with `exitCode`; a last synchronous SIGKILL on exit for
 * any child still alive.
 */
export function installSignalHandlers(
  announce = (sig: string) => console.error(`\n${sig}: stopping children and dropping databases…`),
  exitCode = 130,
): void {
  let signalled = false
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (signalled) {
        console.error(`\n${sig} again: still cleaning up (children and databases)…`)
        return
      }
      signalled = true
      announce(sig)
      cleanupAll().finally(() => process.exit(exitCode))
    })
  }
  process.on('exit', () => {
    for (const c of children) if (isRunning(c)) c.kill('SIGKILL')
  })
}

// ---------------------------------------------------------------------------------------------- children

export function isRunning(proc: ChildProcess | undefined): boolean {
  return proc !== undefined && proc.exitCode === null && proc.signalCode === null
}

/**
 * Spawns `node [--import tsx] [--import guard] args…` in the repository root, tracked for the last-resort
 * SIGKILL on exit. `tsx` is for a .ts script only, so the server bundle runs without the TypeScript loader,
 * as `npm start` runs it. `output` receives stdout and stderr ('inherit': this process's own). `wrapper`
 * runs node under another command (e.g. `strace -f -o file`): the child is then that command, node its child.
 */
export function spawnNode(spec: {
  args: string[]
  env: NodeJS.ProcessEnv
  tsx?: boolean
  guard?: boolean
  wrapper?: string[]
  output: 'inherit' | ((chunk: Buffer) => void)
}): ChildProcess {
  const io = spec.output === 'inherit' ? 'inherit' : 'pipe'
  const [command, ...wrapperArgs] = [...(spec.wrapper ?? []), process.execPath]
  const proc = spawn(
    command!,
    [
      ...wrapperArgs,
      ...(spec.tsx ? ['--import', 'tsx'] : []),
      ...(spec.guard ? ['--import', GUARD] : []),
      ...spec.args,
    ],
    { cwd: ROOT, env: spec.env, stdio: ['ignore', io, io, ...(spec.guard ? ['ipc' as const] : [])] },
  )
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  if (typeof spec.output === 'function') {
    proc.stdout?.on('data', spec.output)
    proc.stderr?.on('data', spec.output)
  }
  return proc
}

/** SIGTERM (graceful close), then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopProcess(proc: ChildProcess, graceMs: number): Promise<void> {
  if (isRunning(proc)) {
    const exited = once(proc, 'exit')
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
  if (proc.connected) proc.disconnect()
}

/**
 * Polls `url` (a fresh connection each time) until it answers 200; fails early when `exited()` names a
 * reason (the child is gone), and after `timeoutMs`.
 */
export async function waitReady(
  url: string,
  o: { timeoutMs: number; everyMs: number; probeTimeoutMs: number; exited: () => string | undefined },
): Promise<void> {
  const deadline = Date.now() + o.timeoutMs
  while (Date.now() < deadline) {
    const gone = o.exited()
    if (gone) throw new Error(gone)
    const res = await probe(url, {}, o.probeTimeoutMs)
    if (res?.status === 200) return
    await sleep(o.everyMs)
  }
  throw new Error(`not ready at ${url} after ${o.timeoutMs} ms`)
}

// ---------------------------------------------------------------------------------------------- /proc

/** The pids of a process's children (Linux /proc; empty once it is gone). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)
  } catch {
    return []
  }
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
}
const CLK_TCK = clockTicks()

/** User + system CPU seconds of a process (undefined once it is gone; Linux /proc). */
export function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return undefined
  }
}

/** A kB field of /proc/<pid>/status (undefined once the process is gone). */
export function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------- one child

export interface Child {
  name: string
  pid: number
  port: number
  url: string
  proc: ChildProcess
  /** The last lines the child wrote, for error messages. */
  tail(): string
  /** Stops it (SIGTERM, SIGKILL after 15 s) and unregisters its cleanup. */
  stop(): Promise<void>
  /** Polls `path` until it answers 200; fails early when the child exits. */
  waitReady(path: string, timeoutMs?: number): Promise<void>
}

/**
 * Starts `script` (a .ts one through tsx) with `nodeArgs` before it, guarded, on a free port of 127.0.0.1,
 * registered for stopping at cleanup; keeps its last 40 lines of output.
 */
export async function startChild(opts: {
  name: string
  script: string
  args?: string[]
  nodeArgs?: string[]
  env: Record<string, string>
  /** Pass on only PATH of this process's environment, not all of it. */
  cleanEnv?: boolean
}): Promise<Child> {
  const port = await freePort()
  const inherited = opts.cleanEnv ? { PATH: process.env.PATH } : process.env
  const lines: string[] = []
  const proc = spawnNode({
    args: [...(opts.nodeArgs ?? []), opts.script, ...(opts.args ?? [])],
    env: { ...inherited, ...opts.env, ...listenEnv(port) },
    tsx: opts.script.endsWith('.ts'),
    guard: true,
    output: (chunk) => {
      lines.push(...chunk.toString().split('\n').filter(Boolean))
      if (lines.length > 40) lines.splice(0, lines.length - 40)
    },
  })
  const stop = onCleanup(`stop ${opts.name}`, () => stopProcess(proc, 15_000))
  if (proc.pid === undefined) {
    await stop()
    throw new Error(`${opts.name}: could not spawn`)
  }
  const tail = () => lines.join('\n')
  const url = `http://127.0.0.1:${port}`
  const exited = () =>
    isRunning(proc) ? undefined : `${opts.name} exited (${proc.exitCode ?? proc.signalCode}):\n${tail()}`
  const ready = (path: string, timeoutMs = 60_000) =>
    waitReady(`${url}${path}`, { timeoutMs, everyMs: 200, probeTimeoutMs: 2_000, exited }).catch((err) => {
      throw new Error(`${opts.name}: ${(err as Error).message}\n${tail()}`)
    })
  return { name: opts.name, pid: proc.pid, port, url, proc, tail, stop, waitReady: ready }
}

/**
 * The server as users run it (`npm start`): the esbuild bundle, built first, not TypeScript through tsx,
 * with the start script's node flags (plus `nodeArgs`), warnings-only logging, no rate limit and a pool of
 * 20; resolves once `/readyz` answers.
 */
export async function startServer(opts: {
  databaseUrl: string
  adminSecret: string
  nodeArgs?: string[]
}): Promise<Child> {
  buildBundle()
  const args = bundleArgs(opts.nodeArgs)
  const server = await startChild({
    name: 'server',
    script: args.at(-1)!,
    nodeArgs: args.slice(0, -1),
    env: serverEnv({ databaseUrl: opts.databaseUrl, adminApiKey: opts.adminSecret, poolMax: 20 }),
  })
  await server.waitReady('/readyz', 120_000)
  return server
}

/** Runs a script's `main`, then every cleanup; on failure prints `<what> failed: <stack>` and exits 1. */
export function runMain(what: string, main: () => Promise<void>): void {
  main()
    .then(
      () => cleanupAll(),
      async (err) => {
        console.error(`${what} failed: ${(err as Error).stack ?? err}`)
        await cleanupAll()
        process.exitCode = 1
      },
    )
    .then(() => process.exit())
}
