/**
 * Copies every row of one database into another of the same schema, then proves the copy: the engine behind
 * `npm run backup`, `restore`, `move-to-postgres` and the upgrade of a PGlite data directory.
 *
 * - The source is read in ONE repeatable-read, read-only transaction: a consistent snapshot, even while the
 *   server keeps writing. Rows travel as JSON (`row_to_json` → `json_populate_recordset`), so every type
 *   comes back exactly (bigint fen as digits, timestamps to the microsecond), a batch at a time.
 * - The target is migrated to the same migrations and must hold no record; its seed rows (regions, targets)
 *   are replaced by the source's. The rollups are not copied: the purchases trigger rebuilds them.
 * - Verification compares, per table, the row count and an order-independent 64-bit hash of every row's
 *   JSON text, and the rollups' sums per key (their shards may differ).
 */
import pg from 'pg'
import type { Database } from './client.js'
import { runMigrations } from './migrate.js'

/** Kept by the purchases trigger from the records: rebuilt in the target, compared by sums, never copied. */
const ROLLUPS: Record<string, string> = {
  purchase_totals: 'year, month, channel, region_code, org_id',
  purchase_year_totals: 'year, channel, region_code',
  canteen_year_totals: 'year, org_id',
}

/** Rows per batch read from the source and written to the target. */
const BATCH = 2_000

/** A connection that runs SQL text: a pg client, or PGlite itself. */
interface Conn {
  query<T>(text: string, params?: unknown[]): Promise<T[]>
  release(): Promise<void>
}

async function connect(database: Database): Promise<Conn> {
  if (database.pool) {
    const client = await database.pool.connect()
    return {
      query: async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[],
      release: async () => client.release(),
    }
  }
  const pglite = database.pglite!
  return {
    query: async <T>(text: string, params?: unknown[]) => (await pglite.query<T>(text, params)).rows,
    release: async () => {},
  }
}

const ident = (name: string) => pg.escapeIdentifier(name)

/** The tables to copy, parents before children (by foreign key), rollups left out. */
async function tablesInOrder(conn: Conn): Promise<string[]> {
  const tables = (
    await conn.query<{ name: string }>(
      `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind = 'r' order by 1`,
    )
  )
    .map((r) => r.name)
    .filter((name) => !(name in ROLLUPS))
  const edges = await conn.query<{ child: string; parent: string }>(
    `select c.conrelid::regclass::text as child, c.confrelid::regclass::text as parent
       from pg_constraint c where c.contype = 'f'`,
  )
  const ordered: string[] = []
  const visit = (table: string, path: Set<string>) => {
    if (ordered.includes(table) || path.has(table)) return
    path.add(table)
    for (const e of edges) if (e.child === table && e.parent !== table) visit(e.parent, path)
    ordered.push(table)
  }
  for (const table of tables) visit(table, new Set())
  return ordered.filter((t) => tables.includes(t))
}

export class CopyError extends Error {}

/** How many migrations a database has applied (drizzle's own table). */
async function migrationLevel(conn: Conn): Promise<number> {
  const [row] = await conn.query<{ n: number }>('select count(*)::int as n from drizzle.__drizzle_migrations')
  return row?.n ?? 0
}

/** The target must be a database of ours with no record in it: nothing of an office's data is overwritten. */
async function assertEmptyTarget(target: Conn, tables: string[]) {
  const seeded = new Set(['regions', 'targets'])
  for (const table of tables.filter((t) => !seeded.has(t))) {
    const [row] = await target.query<{ any: boolean }>(`select exists (select from ${ident(table)}) as any`)
    if (row?.any) throw new CopyError(`the target database is not empty (table ${table} has rows)`)
  }
}

/** The columns a row is written with: all but generated ones (the target computes those itself). */
async function writableColumns(conn: Conn, table: string): Promise<string> {
  const cols = await conn.query<{ name: string }>(
    `select attname as name from pg_attribute
      where attrelid = $1::regclass and attnum > 0 and not attisdropped and attgenerated = ''
      order by attnum`,
    [table],
  )
  return cols.map((c) => ident(c.name)).join(', ')
}

/** Copies one table's rows from the source snapshot into the target, a batch at a time; returns the count. */
async function copyTable(source: Conn, target: Conn, table: string): Promise<number> {
  const columns = await writableColumns(target, table)
  const cursor = `copy_${table}`
  await source.query(
    `declare ${ident(cursor)} no scroll cursor for select row_to_json(t)::text as j from ${ident(table)} t`,
  )
  let copied = 0
  for (;;) {
    const rows = await source.query<{ j: string }>(`fetch ${BATCH} from ${ident(cursor)}`)
    if (rows.length === 0) break
    await target.query(
      `insert into ${ident(table)} (${columns}) overriding system value
       select ${columns} from json_populate_recordset(null::${ident(table)}, $1::json)`,
      [`[${rows.map((r) => r.j).join(',')}]`],
    )
    copied += rows.length
    if (rows.length < BATCH) break
  }
  await source.query(`close ${ident(cursor)}`)
  return copied
}

/** Sequences behind identity or serial columns continue after the copied ids. */
async function resetSequences(target: Conn) {
  const owned = await target.query<{ seq: string; tbl: string; col: string }>(
    `select s.oid::regclass::text as seq, d.refobjid::regclass::text as tbl, a.attname as col
       from pg_class s join pg_depend d on d.objid = s.oid and d.deptype in ('a', 'i')
       join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
      where s.relkind = 'S'`,
  )
  for (const { seq, tbl, col } of owned) {
    await target.query(
      `select setval($1::regclass, coalesce((select max(${ident(col)}) from ${tbl}), 0) + 1, false)`,
      [seq],
    )
  }
}

/** One line per table: its row count and a hash of its rows (rollups: of their sums per key). */
async function fingerprint(conn: Conn, tables: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const hash = (from: string) =>
    `select count(*)::text || ':' || coalesce(bit_xor(hashtextextended(row_to_json(t)::text, 0)), 0)::text as f from ${from}`
  for (const table of tables) {
    const [row] = await conn.query<{ f: string }>(hash(`${ident(table)} t`))
    out.set(table, row!.f)
  }
  for (const [table, key] of Object.entries(ROLLUPS)) {
    const sums = `(select ${key}, sum(total_fen) as fen, sum(count) as n from ${ident(table)} group by ${key} having sum(count) <> 0) t`
    const [row] = await conn.query<{ f: string }>(hash(sums))
    out.set(table, row!.f)
  }
  return out
}

export interface CopyReport {
  /** Rows copied per table (rollups: rebuilt, not counted). */
  rows: Record<string, number>
}

/**
 * Copies `source` into `target` (migrated here, and refused unless it holds no record) and verifies the
 * result; throws CopyError when anything differs. The target's transaction commits only after the check.
 */
export async function copyDatabase(source: Database, target: Database): Promise<CopyReport> {
  // Both at this version's schema: an older source (a PGlite folder, an old backup) is brought up to date.
  await runMigrations(source)
  await runMigrations(target)
  const from = await connect(source)
  const to = await connect(target)
  try {
    await from.query('begin isolation level repeatable read, read only')
    await to.query('begin')
    // Rows are compared as JSON text, and timestamps print in the session's time zone.
    await from.query("set local time zone 'UTC'")
    await to.query("set local time zone 'UTC'")
    const [sourceLevel, targetLevel] = [await migrationLevel(from), await migrationLevel(to)]
    if (sourceLevel !== targetLevel) {
      throw new CopyError(
        `the source has ${sourceLevel} migrations and this version ${targetLevel}: use the version that made it`,
      )
    }
    const tables = await tablesInOrder(from)
    await assertEmptyTarget(to, tables)
    await to.query('delete from targets')
    await to.query('delete from regions')
    const rows: Record<string, number> = {}
    for (const table of tables) rows[table] = await copyTable(from, to, table)
    await resetSequences(to)
    const [want, got] = [await fingerprint(from, tables), await fingerprint(to, tables)]
    const differ = [...want].filter(([table, f]) => got.get(table) !== f).map(([table]) => table)
    if (differ.length > 0) throw new CopyError(`the copy differs from the source in: ${differ.join(', ')}`)
    await to.query('commit')
    await from.query('commit')
    return { rows }
  } catch (err) {
    await to.query('rollback').catch(() => {})
    await from.query('rollback').catch(() => {})
    throw err
  } finally {
    await to.release()
    await from.release()
  }
}
