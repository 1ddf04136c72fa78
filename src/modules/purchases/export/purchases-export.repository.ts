import { type SQL, sql } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import type { Database } from '../../../db/client.js'
import { whereClause } from '../purchases.repository.js'
import type { PurchaseFilters } from '../purchases.schemas.js'

/** One exported record: text cells in EXPORT_COLUMNS order, formatted as the JSON API formats them. */
export type ExportRow = (string | null)[]

/**
 * Most rows per page. Measured on 1 000 000 rows: 1 000 is as fast as 5 000 and the server's peak RSS is lower
 * (each page's strings more often die young instead of being promoted and left for a later major GC).
 */
const PAGE_ROWS = 1_000
/**
 * Characters of text a page aims at. A record is usually about 250 characters, so pages are PAGE_ROWS long; one
 * with long text (a 2 000-character note) is 25 times that, and 1 000 of those would hold some 10 MB per export
 * in memory (25 such exports at once overran the start script's 160 MB heap). So the first page is short, and
 * each next one as long as the rows of the last one allow.
 */
const PAGE_CHARS = 256 * 1024
const FIRST_PAGE_ROWS = 50

const dialect = new PgDialect()

// Same text as purchase_json (migrations/0002): money with two fraction digits, UTC timestamps.
const selectList = sql`p.id::text, p.channel,
  (p.amount_fen / 100)::text || '.' || lpad((p.amount_fen % 100)::text, 2, '0'),
  p.occurred_on::text, p.org_id::text, p.region_code::text, p.supplier, p.supplier_credit_code::text, p.product,
  p.voucher_no, p.external_ref, p.note, p.year::text, p.status,
  to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  to_char(p.voided_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  p.void_reason`

/** Positions of the sort key in an ExportRow (EXPORT_COLUMNS order). */
const ID = 0
const OCCURRED_ON = 3

/**
 * One statement, rows as arrays of text. On PostgreSQL `pool.query` takes a connection for this statement
 * only and gives it back before the rows are used.
 */
async function arrayRows<T extends unknown[]>(database: Database, query: SQL): Promise<T[]> {
  const q = dialect.sqlToQuery(query)
  if (database.pool) {
    return (await database.pool.query<T>({ text: q.sql, values: q.params, rowMode: 'array' })).rows
  }
  return (await database.pglite!.query<T>(q.sql, q.params as unknown[], { rowMode: 'array' })).rows
}

/** Where the export starts: the database's clock, and the years that hold records (null when none do). */
async function exportStart(
  database: Database,
): Promise<{ at: string; minYear: number | null; maxYear: number | null }> {
  // min and max of the leading column of purchases_list_idx: two index probes, not a scan.
  const [row] = await arrayRows<[string, number | null, number | null]>(
    database,
    sql`select now()::text, min(year), max(year) from purchases`,
  )
  const [at, minYear, maxYear] = row!
  return {
    at,
    minYear: minYear === null ? null : Number(minYear),
    maxYear: maxYear === null ? null : Number(maxYear),
  }
}

/** The years to read, newest first: the filter's year, else every stored year the date filters allow. */
function yearsToRead(filters: PurchaseFilters, minYear: number | null, maxYear: number | null): number[] {
  if (minYear === null || maxYear === null) return []
  if (filters.year !== undefined) return [filters.year]
  const low = Math.max(minYear, filters.from ? Number(filters.from.slice(0, 4)) : minYear)
  const high = Math.min(maxYear, filters.to ? Number(filters.to.slice(0, 4)) : maxYear)
  const years: number[] = []
  for (let y = high; y >= low; y--) years.push(y)
  return years
}

/**
 * A page of one year, in list order, after `after`. The year (and its date range, for the org index) lets
 * PostgreSQL walk purchases_list_idx or purchases_org_list_idx from `after`, so each page costs its own rows
 * and not the rows before it; NULLS LAST as in those indexes.
 */
function pageQuery(
  filters: PurchaseFilters,
  year: number,
  startedAt: string,
  after: { occurredOn: string; id: string } | undefined,
  limit: number,
): SQL {
  return sql`select ${selectList} from purchases p
    where ${whereClause(filters)}
      and p.year = ${year}
      and p.occurred_on >= ${`${year}-01-01`}::date and p.occurred_on <= ${`${year}-12-31`}::date
      and p.created_at <= ${startedAt}::timestamptz
      ${after ? sql`and (p.occurred_on, p.id) < (${after.occurredOn}::date, ${after.id}::uuid)` : sql``}
    order by p.occurred_on desc nulls last, p.id desc nulls last
    limit ${limit}`
}

/** Rows for the next page: PAGE_CHARS of rows as long as the last page's, between 1 and `max`. */
function nextPageRows(rows: ExportRow[], max: number): number {
  let chars = 0
  for (const row of rows) for (const cell of row) chars += cell?.length ?? 0
  return Math.max(1, Math.min(max, Math.floor(PAGE_CHARS / Math.max(1, chars / rows.length))))
}

/**
 * Every record matching the filters, in the list order (occurred_on desc, id desc), a page at a time, on
 * both databases. Each page is one statement: no connection and no transaction is held between pages, so
 * a client that stops reading holds nothing in the database (a pooled connection is taken only while a
 * page is read), and memory holds about one page (PAGE_CHARS) per export. Consistency: no record appears
 * twice (the keyset only moves down), every record stored before the export started and still matching
 * when its page is read appears once, and records created after the start (`created_at` later than the
 * database's clock then) never appear. A record voided while the export runs shows its state when its
 * page was read.
 */
export async function* exportBatches(
  database: Database,
  filters: PurchaseFilters,
  maxRows = PAGE_ROWS,
): AsyncGenerator<ExportRow[]> {
  const start = await exportStart(database)
  let limit = Math.min(maxRows, FIRST_PAGE_ROWS)
  for (const year of yearsToRead(filters, start.minYear, start.maxYear)) {
    let after: { occurredOn: string; id: string } | undefined
    for (;;) {
      const rows = await arrayRows<ExportRow>(database, pageQuery(filters, year, start.at, after, limit))
      if (rows.length > 0) yield rows
      if (rows.length < limit) break
      const last = rows[rows.length - 1]!
      after = { occurredOn: last[OCCURRED_ON]!, id: last[ID]! }
      limit = nextPageRows(rows, maxRows)
    }
  }
}
