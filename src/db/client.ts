import { createHash } from 'node:crypto'
import { PGlite, types } from '@electric-sql/pglite'
import { type ExtractTablesWithRelations, type SQL, sql } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core'
import { PgDialect } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import pg from 'pg'
import { openEmbeddedPostgres } from './embedded-postgres.js'
import { asDbError, TransactionConflict } from './errors.js'
import * as schema from './schema.js'

type Schema = typeof schema
/** The drizzle API both drivers share; services and repositories only ever see this. */
export type Db = PgDatabase<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>
/** A database handle or an open transaction. */
export type Executor = Db | Tx

export interface Database {
  kind: 'pg' | 'pglite'
  db: Db
  /** Set for PostgreSQL: the pool, for streaming exports and COPY. */
  pool?: pg.Pool
  /** Set for PGlite. */
  pglite?: PGlite
  /**
   * How many statements a group-committing caller (`createBatcher`) keeps in flight: a few on PostgreSQL,
   * where backends work in parallel; 1 on PGlite, whose one connection runs in this thread, so concurrent
   * requests always queue into the next shared statement.
   */
  batchSlots: number
  ping(): Promise<void>
  close(): Promise<void>
}

export interface DatabaseOptions {
  databaseUrl?: string
  poolMax?: number
  onPoolError?: (err: Error) => void
}

function openPostgres(databaseUrl: string, opts: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: opts.poolMax ?? 20,
    connectionTimeoutMillis: 5_000,
    // A statement never hangs forever on a lock or a half-dead server.
    statement_timeout: 30_000,
  })
  // Idle clients that lose their server emit 'error'; without a listener that would crash the process.
  pool.on('error', (err) => opts.onPoolError?.(err))
  // A client checked out of the pool has no pool listener: if its server connection dies between two
  // queries of a transaction (backend terminated, database restarting), pg emits 'error' on the client,
  // and an 'error' event nobody listens to kills the process. The failure still surfaces where it
  // matters — the client's next query fails (→ 503) and the pool discards it on release — so this
  // listener only keeps the process alive.
  pool.on('connect', (client) => client.on('error', () => {}))
  const db = drizzlePg(pool, { schema }) as unknown as Db
  const ping = () => pool.query('select 1').then(() => {})
  return { kind: 'pg', db, pool, batchSlots: 4, ping, close: () => pool.end() }
}

/**
 * PGlite, in this process: in memory for the test suite's fast default and `npm run openapi`; on a folder
 * only to read a data directory of the earlier PGlite default when it is upgraded (`pglite-upgrade.ts`).
 */
export function openPglite(dataDir?: string): Database {
  // int8 comes back as a string, as with pg: a JS number would round sums above 2^53 fen.
  const options = { parsers: { [types.INT8]: (value: string) => value } }
  const pglite = dataDir ? new PGlite(dataDir, options) : new PGlite(options)
  const db = drizzlePglite(pglite, { schema }) as unknown as Db
  const ping = () => pglite.query('select 1').then(() => {})
  return { kind: 'pglite', db, pglite, batchSlots: 1, ping, close: () => pglite.close() }
}

/** PostgreSQL when a URL is given, else an in-memory PGlite (tests; the embedded default is `openEmbeddedDatabase`). */
export function openDatabase(opts: DatabaseOptions): Database {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts) : openPglite()
}

/**
 * The configured database for a command-line task (create-key, migrate, backup): PostgreSQL at the URL, or
 * the embedded server in DATA_DIR — the running server's if one runs (the task works beside it), else
 * started for the task and stopped after.
 */
export function openTaskDatabase(config: { databaseUrl?: string; dataDir: string }): Promise<Database> {
  return config.databaseUrl
    ? Promise.resolve(openDatabase({ databaseUrl: config.databaseUrl, poolMax: 2 }))
    : openEmbeddedDatabase({ dataDir: config.dataDir, exclusive: false, poolMax: 2 })
}

/**
 * The embedded default: the PostgreSQL server in DATA_DIR (`embedded-postgres.ts`), started or attached to,
 * and a pool on it; closing the database closes the pool, then stops the server if this process owns it.
 */
export async function openEmbeddedDatabase(
  opts: Omit<DatabaseOptions, 'databaseUrl' | 'dataDir'> & {
    dataDir: string
    exclusive: boolean
    onLog?: (line: string) => void
  },
): Promise<Database> {
  const server = await openEmbeddedPostgres(opts)
  const pool = openPostgres(server.url, opts)
  return {
    ...pool,
    async close() {
      await pool.close().catch(() => {})
      await server.stop()
    },
  }
}

/** Runs a raw SQL query and returns its rows (both drivers return `{ rows }`). */
export async function queryRows<T>(ex: Executor, query: SQL): Promise<T[]> {
  const res = (await ex.execute(query)) as unknown as { rows: T[] }
  return res.rows
}

const dialect = new PgDialect()
/** Dates and timestamps stay strings, as drizzle returns them from `execute`. */
const RAW_TYPES = new Set<number>([
  pg.types.builtins.DATE,
  pg.types.builtins.TIMESTAMP,
  pg.types.builtins.TIMESTAMPTZ,
  pg.types.builtins.INTERVAL,
])
const rawTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    RAW_TYPES.has(oid)
      ? (v: string) => v
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}
const statementNames = new Map<string, string>()

/**
 * `queryRows` for the hot paths (authentication, the single-record write, totals): on a PostgreSQL pool the
 * statement is a named prepared statement, so each connection parses and plans it once instead of on every
 * request (measured with pgbench: the one-statement create went from 427 to 641 tps). The name is a digest
 * of the SQL text, so only queries whose text has a fixed shape (values as parameters, never inlined) may
 * use it: every distinct text stays prepared on every connection. In a transaction and on PGlite it is
 * plain `queryRows`.
 */
export async function queryPrepared<T>(ex: Executor, query: SQL): Promise<T[]> {
  const client = (ex as { $client?: unknown }).$client
  if (!(client instanceof pg.Pool)) return queryRows<T>(ex, query)
  const { sql: text, params } = dialect.sqlToQuery(query)
  let name = statementNames.get(text)
  if (!name) {
    name = `q_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`
    statementNames.set(text, name)
  }
  const res = await client.query<T & pg.QueryResultRow>({ name, text, values: params, types: rawTypes })
  return res.rows
}

/**
 * Several reads as ONE statement: one round trip instead of one per query, and every figure from the same
 * snapshot (a statement sees one). Each query becomes a JSON array of its rows, keyed like `queries`.
 * Rows travel as JSON, so a query must cast bigint (and numeric) columns to text: a JSON number above
 * 2^53 would lose digits. Prepared on PostgreSQL (see `queryPrepared`), so the queries must have fixed shapes.
 */
export async function queryRowSets<K extends string>(
  ex: Executor,
  queries: Record<K, SQL>,
): Promise<Record<K, Record<string, unknown>[]>> {
  const keys = Object.keys(queries) as K[]
  const columns = keys.map(
    (k) => sql`(select coalesce(json_agg(t), '[]'::json) from (${queries[k]}) t) as ${sql.identifier(k)}`,
  )
  const [row] = await queryPrepared<Record<K, Record<string, unknown>[]>>(
    ex,
    sql`select ${sql.join(columns, sql`, `)}`,
  )
  return row!
}

/** Runs `fn` in one transaction, retrying a few times when PostgreSQL aborts it for a deadlock. */
export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(fn)
    } catch (err) {
      if (attempt >= 5 || !(asDbError(err) instanceof TransactionConflict)) throw err
      await new Promise((r) => setTimeout(r, attempt * 10 * Math.random()))
    }
  }
}

/**
 * Runs reads in one REPEATABLE READ, read-only transaction, so every figure of a response comes from the
 * same snapshot (a purchase committed half-way through cannot make two figures disagree).
 */
export function readSnapshot<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(fn, { isolationLevel: 'repeatable read', accessMode: 'read only' })
}
