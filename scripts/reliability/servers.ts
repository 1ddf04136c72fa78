import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs'
import { Agent, type IncomingHttpHeaders, request } from 'node:http'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { startNodeFlags } from '../bench/procs.js'

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for the server to take). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export interface HttpResult {
  status: number
  contentType: string
  headers: IncomingHttpHeaders
  body: string
}

/**
 * One HTTP request over a keep-alive agent (node:http: a real socket, and much less client CPU per request
 * than fetch, which matters when clients and servers share two cores). Rejects on a network error or a
 * timeout — the cases where the client cannot know whether the request took effect.
 */
export function httpRequest(
  agent: Agent,
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers }
    if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body)
    const req = request(url, { method: opts.method ?? 'GET', agent, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      )
      res.on('aborted', () => reject(new Error('response aborted')))
    })
    req.setTimeout(opts.timeoutMs ?? 20_000, () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end(opts.body)
  })
}

const probeAgent = new Agent({ keepAlive: false })

/** GET with a short timeout on a fresh connection; undefined on a network error. */
export async function probe(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 2_000,
): Promise<HttpResult | undefined> {
  try {
    return await httpRequest(probeAgent, url, { headers, timeoutMs })
  } catch {
    return undefined
  }
}

export interface InstanceEnv {
  databaseUrl: string
  adminApiKey: string
  logDir: string
  root: string
}

/**
 * One server process (`node dist/server.mjs`, the bundle `npm start` runs) on a fixed port. It can be killed with SIGKILL
 * and started again on the same port, as a supervisor would. Its output goes to a log file; error-level
 * lines are kept in memory for the report.
 */
export class Instance {
  readonly url: string
  /** Keep-alive connections the clients share; sockets to a dead process fail and are replaced. */
  readonly agent = new Agent({ keepAlive: true, maxSockets: 64 })
  proc: ChildProcess | undefined
  /** Whether clients may route to it: cleared on a network error, set again by the health monitor. */
  up = false
  generation = 0
  /** Exits we did not cause (a crash) — a failure of the run. */
  readonly unexpectedExits: string[] = []
  readonly errorLines: string[] = []
  private expectExit = false
  private log: WriteStream | undefined

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: InstanceEnv,
  ) {
    this.url = `http://127.0.0.1:${port}`
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null
  }

  start(): void {
    this.generation++
    this.expectExit = false
    this.log = createWriteStream(join(this.env.logDir, `reliability-${this.name}-${this.generation}.log`))
    const proc = spawn(process.execPath, [...startNodeFlags(), 'dist/server.mjs'], {
      cwd: this.env.root,
      env: {
        ...process.env,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        DATABASE_URL: this.env.databaseUrl,
        ADMIN_API_KEY: this.env.adminApiKey,
        LOG_LEVEL: 'warn',
        RATE_LIMIT_PER_MINUTE: '0',
        PG_POOL_MAX: '10',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.proc = proc
    const generation = this.generation
    let partial = ''
    const onData = (chunk: Buffer) => {
      this.log?.write(chunk)
      const text = partial + chunk.toString('utf8')
      const lines = text.split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        if (!line) continue
        let level = 50
        try {
          level = (JSON.parse(line) as { level?: number }).level ?? 50
        } catch {
          // Not a pino line (a crash trace, a start-up failure): keep it.
        }
        if (level >= 50 && this.errorLines.length < 200) this.errorLines.push(`[${this.name}] ${line}`)
      }
    }
    proc.stdout?.on('data', onData)
    proc.stderr?.on('data', onData)
    proc.on('exit', (code, signal) => {
      this.up = false
      if (!this.expectExit) {
        this.unexpectedExits.push(`${this.name}#${generation} exited (code ${code}, signal ${signal})`)
      }
    })
  }

  /** Waits until /healthz answers 200 (the server has migrated, seeded the admin key and listens). */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (!this.running)
        throw new Error(`${this.name} exited during start-up:\n${this.errorLines.join('\n')}`)
      const res = await probe(`${this.url}/healthz`, {}, 1_000)
      if (res?.status === 200) {
        this.up = true
        return
      }
      await sleep(100)
    }
    throw new Error(`${this.name} did not become healthy within ${timeoutMs} ms`)
  }

  /** CPU seconds the current process has used (Linux /proc; 0 elsewhere). */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.proc?.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) / 100
    } catch {
      return 0
    }
  }

  /** kill -9: no graceful close, in-flight requests and transactions are cut. */
  async kill9(): Promise<void> {
    const proc = this.proc
    if (!proc || !this.running) return
    this.expectExit = true
    this.up = false
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGKILL')
    await exited
  }

  /** SIGTERM (graceful close), then SIGKILL after a grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    const proc = this.proc
    if (!proc || !this.running) return
    this.expectExit = true
    this.up = false
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
    this.agent.destroy()
    await new Promise<void>((r) => (this.log ? this.log.end(r) : r()))
  }

  /** Last resort on process exit: synchronous SIGKILL. */
  killNow(): void {
    if (this.proc && this.running) {
      this.expectExit = true
      this.proc.kill('SIGKILL')
    }
  }
}
