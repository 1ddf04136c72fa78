import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs'
import { Agent } from 'node:http'
import { join } from 'node:path'
import { probe } from '../lib/http.js'
import { sleep, startNodeFlags } from '../lib/processes.js'

export { httpRequest, probe } from '../lib/http.js'
export { freePort, sleep } from '../lib/processes.js'

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
