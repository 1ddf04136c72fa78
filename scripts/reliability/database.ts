/**
 * The run's own database `<db>_rel_<random>` on DATABASE_URL's server, and the administration of it (cut its
 * sessions, refuse connections). Administration happens from a connection to the named database, never to
 * ours, so cutting ours off never cuts this one.
 */
import pg from 'pg'
import { baseDatabaseName, createDatabase, databaseUrl, dropDatabase } from '../lib/postgres.js'
import { onCleanup } from '../lib/processes.js'
import { KEEP_DB } from './config.js'

export interface RunDatabase {
  name: string
  url: string
  admin: pg.Client
  /** Terminates every session of ours; answers how many. */
  terminate(): Promise<number>
  allowConnections(allow: boolean): Promise<void>
}

/** Creates the database and registers its drop (or, with RELIABILITY_KEEP_DB=1, its keeping) at cleanup. */
export async function createRunDatabase(baseUrl: string, runId: string): Promise<RunDatabase> {
  const safe = baseDatabaseName(baseUrl)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40)
  const name = `${safe}_rel_${runId}`
  const admin = new pg.Client({ connectionString: baseUrl })
  admin.on('error', () => {})
  await admin.connect()
  onCleanup('admin connection', () => admin.end().catch(() => {}))
  await createDatabase(admin, name)
  console.log(`reliability: database ${name} created on ${new URL(baseUrl).host}`)
  const allowConnections = async (allow: boolean) => {
    await admin.query(`alter database "${name}" allow_connections ${allow}`)
  }
  onCleanup(`drop database ${name}`, () => release(admin, name, allowConnections))
  const terminate = async () => {
    const res = await admin.query(
      'select pg_terminate_backend(pid) as t from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [name],
    )
    return res.rowCount ?? 0
  }
  return { name, url: databaseUrl(baseUrl, name), admin, terminate, allowConnections }
}

async function release(admin: pg.Client, name: string, allowConnections: (allow: boolean) => Promise<void>) {
  try {
    if (KEEP_DB) {
      await allowConnections(true).catch(() => {})
      console.log(`reliability: kept database ${name}`)
      return
    }
    await dropDatabase(admin, name)
  } catch (err) {
    console.error(`reliability: could not drop ${name}: ${(err as Error).message}`)
  }
}
