import type { SQL } from 'drizzle-orm'
import { type Executor, queryRowSets, queryRows } from './client.js'

/**
 * One read, defined once: its SQL and how one row becomes a typed value. It runs alone (`readRows`) or
 * batched with other reads into one statement (`readRowSets`). Batched rows travel as JSON, so the SQL
 * casts bigint (and numeric) columns to text and `row` parses them: the same values either way.
 */
export interface Read<T> {
  sql: SQL
  row: (r: Record<string, unknown>) => T
}

/** The rows of each read of a batch, typed, keyed like the batch. */
export type RowsOf<R> = { [K in keyof R]: R[K] extends Read<infer T> ? T[] : never }

/** Runs one read. */
export async function readRows<T>(ex: Executor, read: Read<T>): Promise<T[]> {
  return (await queryRows<Record<string, unknown>>(ex, read.sql)).map(read.row)
}

/**
 * Runs several reads as one statement (see `queryRowSets`): one round trip, one snapshot. Prepared on
 * PostgreSQL, so every read must have a fixed shape.
 */
export async function readRowSets<R extends Record<string, Read<unknown>>>(
  ex: Executor,
  reads: R,
): Promise<RowsOf<R>> {
  const entries = Object.entries(reads)
  const sets = await queryRowSets(ex, Object.fromEntries(entries.map(([k, r]) => [k, r.sql])))
  return Object.fromEntries(entries.map(([k, r]) => [k, sets[k]!.map(r.row)])) as RowsOf<R>
}
