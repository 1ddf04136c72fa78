/**
 * Child processes and cleanup. Every child and every database the bench creates is registered here and
 * released in reverse order on success, on failure and on Ctrl-C; each child also loads `guard.mjs`, which
 * stops it when the bench's IPC channel closes, so even a killed bench leaves no server behind.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const GUARD = fileURLToPath(new URL('./guard.mjs', import.meta.url))

/**
 * The node flags `npm start` gives the server (package.json's start script, e.g. the heap cap), so the bench
 * measures the process users run.
 */
export function startNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
  const m = /\bnode\s+(.*?)\s*dist\/server\.mjs/.exec(pkg.scripts.start)
  if (!m) throw new Error(`cannot find "node … dist/server.mjs" in the start script: ${pkg.scripts.start}`)
  return m[1]!.split(/\s+/).filter(Boolean)
}

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

/** Ctrl-C / SIGTERM: clean up, then exit; a last synchronous SIGKILL for any child still alive. */
export function installSignalHandlers(): void {
  let signalled = false
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (signalled) {
        console.error(`\n${sig} again: still cleaning up (children and databases)…`)
        return
      }
      signalled = true
      console.error(`\n${sig}: stopping children and dropping bench databases…`)
      cleanupAll().finally(() => process.exit(130))
    })
  }
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  })
}

export async function freePort(): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address() as { port: number }
  srv.close()
  await once(srv, 'close')
  return port
}

export interface Child {
  name: string
  pid: number
  port: number
  proc: ChildProcess
  /** The last lines the child wrote, for error messages. */
  tail(): string
  stop(): Promise<void>
}

/**
 * Starts `node [--import tsx] --import guard [nodeArgs] script` in the repository root; tsx only for a .ts
 * script, so the server bundle runs (and is measured) without the TypeScript loader, as `npm start` runs it.
 */
export async function startChild(opts: {
  name: string
  script: string
  args?: string[]
  nodeArgs?: string[]
  env: Record<string, string>
  port: number
}): Promise<Child> {
  const proc = spawn(
    process.execPath,
    [
      ...(opts.script.endsWith('.ts') ? ['--import', 'tsx'] : []),
      '--import',
      GUARD,
      ...(opts.nodeArgs ?? []),
      opts.script,
      ...(opts.args ?? []),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...opts.env, PORT: String(opts.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  )
  children.add(proc)
  const lines: string[] = []
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean))
    if (lines.length > 40) lines.splice(0, lines.length - 40)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  const exited = once(proc, 'exit')
  const stop = onCleanup(`stop ${opts.name}`, async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    }
    if (proc.connected) proc.disconnect()
    children.delete(proc)
  })
  if (proc.pid === undefined) {
    await stop()
    throw new Error(`${opts.name}: could not spawn`)
  }
  return { name: opts.name, pid: proc.pid, port: opts.port, proc, tail: () => lines.join('\n'), stop }
}

/** Polls `url` until it answers 200; fails early when the child exits. */
export async function waitReady(child: Child, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(
        `${child.name} exited (${child.proc.exitCode ?? child.proc.signalCode}):\n${child.tail()}`,
      )
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      await res.arrayBuffer()
      if (res.status === 200) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms:\n${child.tail()}`)
}

/**
 * The server as the benches run it, as users run it (`npm start`): the esbuild bundle, built first, not
 * TypeScript through tsx, with the start script's node flags (plus `nodeArgs`), warnings-only logging, no
 * rate limit and a pool of 20; resolves once `/readyz` answers.
 */
export async function startServer(opts: {
  databaseUrl: string
  adminSecret: string
  nodeArgs?: string[]
}): Promise<Child & { url: string }> {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
  const server = await startChild({
    name: 'server',
    script: 'dist/server.mjs',
    nodeArgs: [...startNodeFlags(), ...(opts.nodeArgs ?? [])],
    env: {
      DATABASE_URL: opts.databaseUrl,
      ADMIN_API_KEY: opts.adminSecret,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '0',
      PG_POOL_MAX: '20',
    },
    port: await freePort(),
  })
  const url = `http://127.0.0.1:${server.port}`
  await waitReady(server, `${url}/readyz`, 120_000)
  return { ...server, url }
}
