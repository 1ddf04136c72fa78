import { asc, eq, sql } from 'drizzle-orm'
import type { Executor, Tx } from '../../db/client.js'
import { targets } from '../../db/schema.js'

export type TargetRow = typeof targets.$inferSelect

/** Advisory-lock namespace for "the targets of one year" (two concurrent replacements queue, never clash). */
const TARGETS_LOCK = 7_401

export const targetsRepository = {
  async forYear(ex: Executor, year: number): Promise<TargetRow[]> {
    return ex.select().from(targets).where(eq(targets.year, year)).orderBy(asc(targets.channel))
  },
  /** Serialises replacements of one year's targets until the transaction ends. */
  async lockYear(tx: Tx, year: number): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(${TARGETS_LOCK}::int, ${year}::int)`)
  },
  async replace(tx: Tx, year: number, rows: Omit<TargetRow, 'year'>[]): Promise<void> {
    await tx.delete(targets).where(eq(targets.year, year))
    if (rows.length > 0) await tx.insert(targets).values(rows.map((r) => ({ ...r, year })))
  },
}
