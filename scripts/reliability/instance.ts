import type { ChildProcess } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { Agent } from 'node:http'
import { join } from 'node:path'
import {
  bundleArgs,
  childPids,
  cpuSeconds,
  isRunning,
  listenEnv,
  serverEnv,
  spawnNode,
  stopProcess,
  waitReady,
} from '../lib/processes.js'

/** PostgreSQL at `databaseUrl`, or the embedded default in `dataDir`; `wrapper` runs node under e.g. strace. */
export type InstanceEnv = {
  adminApiKey: string
  logDir: string
  wrapper?: string[]
} & ({ databaseUrl: string } | { dataDir: string })

/** Pino level of one output line; a line that is not pino's (a crash trace, a start-up failure) is an error. */
function levelOf(line: string): number {
  try {
    return (JSON.parse(line) as { level?: number }).level ?? 50
  } catch {
    return 50
  }
}

/**
 * One server process (`node dist/server.mjs`, the bundle `npm start` runs) on a fixed port. It can be killed
 * with SIGKILL and started again on the same port, as a supervisor would. Its output goes to a log file;
 * error-level lines are kept in memory for the report.
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
  /** One log file per start. */
  readonly logFiles: string[] = []
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
    return isRunning(this.proc)
  }

  start(): void {
    this.generation++
    this.expectExit = false
    const logFile = join(this.env.logDir, `reliability-${this.name}-${this.generation}.log`)
    this.logFiles.push(logFile)
    this.log = createWriteStream(logFile)
    const generation = this.generation
    let partial = ''
    const { adminApiKey, wrapper } = this.env
    const inherited = { ...process.env }
    if ('dataDir' in this.env) delete inherited.DATABASE_URL
    const database =
      'dataDir' in this.env ? { dataDir: this.env.dataDir } : { databaseUrl: this.env.databaseUrl }
    const proc = spawnNode({
      args: bundleArgs(),
      wrapper,
      env: {
        ...inherited,
        ...listenEnv(this.port),
        ...serverEnv({ ...database, adminApiKey, poolMax: 10 }),
      },
      output: (chunk) => {
        this.log?.write(chunk)
        const lines = (partial + chunk.toString('utf8')).split('\n')
        partial = lines.pop() ?? ''
        for (const line of lines) {
          if (line && levelOf(line) >= 50 && this.errorLines.length < 200)
            this.errorLines.push(`[${this.name}] ${line}`)
        }
      },
    })
    this.proc = proc
    proc.on('exit', (code, signal) => {
      this.up = false
      if (!this.expectExit) {
        this.unexpectedExits.push(`${this.name}#${generation} exited (code ${code}, signal ${signal})`)
      }
    })
  }

  /** Waits until /healthz answers 200 (the server has migrated, seeded the admin key and listens). */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await waitReady(`${this.url}/healthz`, {
      timeoutMs,
      everyMs: 100,
      probeTimeoutMs: 1_000,
      exited: () =>
        this.running ? undefined : `${this.name} exited during start-up:\n${this.errorLines.join('\n')}`,
    })
    this.up = true
  }

  /** The server's pid: the child's, or under a wrapper the wrapper's child's. */
  serverPid(): number | undefined {
    const pid = this.proc?.pid
    return pid !== undefined && this.env.wrapper ? childPids(pid)[0] : pid
  }

  /** CPU seconds the current process has used (Linux /proc; 0 elsewhere). */
  cpuSeconds(): number {
    return cpuSeconds(this.serverPid()) ?? 0
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

  /**
   * SIGTERM (graceful close), then SIGKILL after a grace period. Under a wrapper the server gets the SIGTERM
   * (strace would detach on one) and the wrapper ends once the server and its children have.
   */
  async stop(graceMs = 10_000): Promise<void> {
    const proc = this.proc
    if (!proc || !this.running) return
    this.expectExit = true
    this.up = false
    const server = this.serverPid()
    if (this.env.wrapper && server !== undefined) {
      const exited = new Promise((r) => proc.once('exit', r))
      process.kill(server, 'SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))])
    }
    await stopProcess(proc, graceMs)
    this.agent.destroy()
    await new Promise<void>((r) => (this.log ? this.log.end(r) : r()))
  }
}
