/**
 * The embedded default's server (src/db/embedded-postgres.ts): created private, flushing every commit, one
 * owner at a time, adopted after its owner was killed, and a start-up failure that says why.
 */
import { spawn } from 'node:child_process'
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { EmbeddedPostgresError, embeddedPaths, openEmbeddedPostgres } from '../../src/db/embedded-postgres.js'

/** A scratch data directory, removed at the end (its parent traversable: as root the server runs as postgres). */
function scratchDataDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'tracker-embedded-'))
  chmodSync(dir, 0o755)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'data')
}

async function query<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text, values)).rows as T[]
  } finally {
    await client.end()
  }
}

/** Whether the process runs (a zombie — exited, its parent not yet told — does not). */
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    return true
  }
}

const mode = (path: string) => statSync(path).mode & 0o777

t.test('the first start creates a private cluster that flushes every commit', async (t) => {
  const dataDir = scratchDataDir(t)
  const server = await openEmbeddedPostgres({ dataDir, exclusive: true })
  t.teardown(() => server.stop())
  const paths = embeddedPaths(dataDir)
  t.equal(mode(dataDir), 0o700, 'DATA_DIR is 0700')
  t.equal(mode(paths.cluster), 0o700, 'the cluster is 0700')
  t.equal(mode(paths.secret), 0o600, 'the generated password is 0600')
  t.equal(mode(join(paths.cluster, 'PG_VERSION')) & 0o077, 0, 'cluster files are private')
  const settings = await query<{ name: string; setting: string }>(
    server.url,
    `select name, setting from pg_settings
      where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'listen_addresses', 'max_wal_size')
      order by name`,
  )
  t.same(Object.fromEntries(settings.map((s) => [s.name, s.setting])), {
    fsync: 'on',
    full_page_writes: 'on',
    listen_addresses: '127.0.0.1',
    max_wal_size: '256',
    synchronous_commit: 'on',
  })
  t.match(server.url, /^postgres:\/\/tracker:[^@]+@127\.0\.0\.1:\d+\/postgres$/)
  const [auth] = await query<{ ok: boolean }>(
    server.url,
    "select count(*) = 0 as ok from pg_hba_file_rules where auth_method = 'trust'",
  )
  t.ok(auth?.ok, 'no trust authentication: a password is needed even on 127.0.0.1')
})

t.test('one server owns the cluster; a task works beside it', async (t) => {
  const dataDir = scratchDataDir(t)
  const owner = await openEmbeddedPostgres({ dataDir, exclusive: true })
  t.teardown(() => owner.stop())
  await t.rejects(
    openEmbeddedPostgres({ dataDir, exclusive: true }),
    { constructor: EmbeddedPostgresError, message: /in use by another server/ },
    'a second server is refused',
  )
  const task = await openEmbeddedPostgres({ dataDir, exclusive: false })
  t.equal(task.pid, owner.pid, 'the task attached to the running cluster')
  await task.stop()
  t.ok(isAlive(owner.pid), "the task's end leaves the server's cluster running")
  t.same(await query(owner.url, 'select 1 as one'), [{ one: 1 }])
  await owner.stop()
  t.notOk(isAlive(owner.pid), "the owner's stop shuts the cluster down")
})

t.test('a server killed with kill -9 leaves a cluster the next one adopts, data intact', async (t) => {
  const dataDir = scratchDataDir(t)
  const holder = spawn(process.execPath, ['--import=tsx', 'scripts/embedded-postgres.ts', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    holder.stdout.setEncoding('utf8').once('data', (line: string) => resolve(line.trim()))
    holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)))
  })
  await query(url, 'create table kept (v text)')
  await query(url, "insert into kept values ('acknowledged')")
  holder.kill('SIGKILL')
  await new Promise((r) => holder.once('exit', r))

  const next = await openEmbeddedPostgres({ dataDir, exclusive: true })
  t.teardown(() => next.stop())
  t.same(await query(next.url, 'select v from kept'), [{ v: 'acknowledged' }])
  await next.stop()
  t.notOk(isAlive(next.pid), 'the adopted cluster stops with its new owner')
})

t.test('the owner starts its server again when the postmaster dies, on the same URL', async (t) => {
  const dataDir = scratchDataDir(t)
  const lines: string[] = []
  const server = await openEmbeddedPostgres({ dataDir, exclusive: true, onLog: (l) => lines.push(l) })
  t.teardown(() => server.stop())
  await query(server.url, 'create table kept (v text)')
  await query(server.url, "insert into kept values ('acknowledged')")
  const first = server.pid
  process.kill(first, 'SIGKILL')
  // No timing claim: the watcher polls every second and backs off; this only bounds a hang.
  for (const deadline = Date.now() + 60_000; server.pid === first && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 100))
  const rows = await query<{ v: string }>(server.url, 'select v from kept')
  t.same(rows, [{ v: 'acknowledged' }], 'the same URL answers again, after crash recovery, data intact')
  t.not(server.pid, first, 'a new postmaster')
  t.ok(isAlive(server.pid))
  t.match(lines.join('\n'), /embedded database \(pid \d+\) is gone; starting it again/, 'logged')
  await t.rejects(
    openEmbeddedPostgres({ dataDir, exclusive: true }),
    { message: /in use by another server/ },
    'the owner holds its lock again',
  )
  const restarted = server.pid
  await server.stop()
  t.notOk(isAlive(restarted), 'stop shuts the restarted cluster down')
})

t.test('a start-up failure says why', async (t) => {
  const dataDir = scratchDataDir(t)
  const first = await openEmbeddedPostgres({ dataDir, exclusive: true })
  await first.stop()
  appendFileSync(join(embeddedPaths(dataDir).cluster, 'postgresql.auto.conf'), 'shared_buffers = lots\n')
  await t.rejects(openEmbeddedPostgres({ dataDir, exclusive: true }), {
    constructor: EmbeddedPostgresError,
    message: /did not start: .*shared_buffers/,
  })
})
