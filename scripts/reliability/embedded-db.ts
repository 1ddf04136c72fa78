/** The embedded default's data directory for the runs on it: a scratch folder, a connection, an index check. */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { openEmbeddedPostgres } from '../../src/db/embedded-postgres.js'
import { postJson } from '../lib/http.js'
import { onCleanup } from '../lib/processes.js'
import { KEEP_DB } from './config.js'

/**
 * A scratch folder, traversable (as root the embedded server runs as `postgres` and must pass through it),
 * removed at cleanup unless RELIABILITY_KEEP_DB=1.
 */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(dir, 0o755)
  onCleanup(`remove ${dir}`, async () => {
    if (KEEP_DB) console.log(`kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** A connection to the cluster in `dataDir`: the running server's, or one started for `fn` and stopped after. */
export async function withEmbeddedClient<T>(dataDir: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const server = await openEmbeddedPostgres({ dataDir, exclusive: false })
  try {
    const client = new pg.Client({ connectionString: server.url })
    await client.connect()
    try {
      return await fn(client)
    } finally {
      await client.end()
    }
  } finally {
    await server.stop()
  }
}

/**
 * amcheck on every B-tree index of the service's tables, each against its table (heapallindexed): throws
 * on corruption; answers how many indexes were checked.
 */
export async function checkIndexes(client: pg.Client): Promise<number> {
  await client.query('create extension if not exists amcheck')
  const { rows } = await client.query<{ name: string }>(
    `select c.relname as name, bt_index_check(c.oid, true)
       from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am am on am.oid = c.relam
       join pg_namespace n on n.oid = c.relnamespace
      where am.amname = 'btree' and n.nspname = 'public'`,
  )
  return rows.length
}

/** Creates an org to write purchases for; answers its id. */
export async function createOrg(url: string, adminApiKey: string, name: string): Promise<string> {
  const org = await postJson<{ id: string }>(url, '/v1/orgs', { name, kind: 'trade_union' }, adminApiKey)
  return org.id
}
