/**
 * A server that cannot start says why: the root cause, not only drizzle's "Failed query: …" (issue 14, which
 * met `Failed query: CREATE SCHEMA …` on a full disk). The embedded default (no DATABASE_URL), made to refuse
 * every write with a setting in its own configuration file, is the cause here.
 */
import { spawn } from 'node:child_process'
import { appendFileSync, chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { embeddedPaths, openEmbeddedPostgres, runningCluster } from '../../src/db/embedded-postgres.js'

t.test('a migration that fails at start-up prints its cause, and leaves no database running', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tracker-startup-'))
  chmodSync(dir, 0o755) // as root the embedded server runs as postgres and must pass through
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const dataDir = join(dir, 'data')
  await (await openEmbeddedPostgres({ dataDir, exclusive: true })).stop()
  const paths = embeddedPaths(dataDir)
  appendFileSync(join(paths.cluster, 'postgresql.auto.conf'), 'default_transaction_read_only = on\n')

  const { DATABASE_URL: _, ...env } = process.env
  const server = spawn(process.execPath, ['--import=tsx', 'src/server.ts'], {
    env: { ...env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  server.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const code = await new Promise((resolve) => server.once('exit', resolve))
  t.equal(code, 1)
  t.match(stderr, /failed to start: Failed query: /)
  t.match(stderr, /cause: cannot execute CREATE SCHEMA in a read-only transaction \(SQLSTATE 25006\)/)
  t.equal(runningCluster(paths), undefined, 'the failed start stopped the embedded database')
})
