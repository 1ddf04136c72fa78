import { asc, eq, type SQL, sql } from 'drizzle-orm'
import type { Executor, Tx } from '../../db/client.js'
import { targets } from '../../db/schema.js'

export type TargetRow = typeof targets.$inferSelect

/** Advisory-lock namespace for "the targets of one year" (two concurrent replacements queue, never clash). */
const TARGETS_LOCK = 7_401

export const targetsRepository = {
  async forYear(ex: Executor, year: number): Promise<TargetRow[]> {
    return ex.select().from(targets).where(eq(targets.year, year)).orderBy(asc(targets.channel))
  },
  /** `forYear`'s channel, amount and ratio as one query for `queryRowSets` (fen as text: JSON-safe). */
  forYearSql(year: number): SQL {
    return sql`select channel, amount_fen::text as "amountFen", ratio_e4 as "ratioE4" from targets
                where year = ${year}`
  },
  /** `forYearSql`'s JSON rows back as rows with bigint fen. */
  fromJson(rows: Record<string, unknown>[]): Pick<TargetRow, 'channel' | 'amountFen' | 'ratioE4'>[] {
    return rows.map((r) => ({
      channel: String(r.channel),
      amountFen: r.amountFen === null ? null : BigInt(r.amountFen as string),
      ratioE4: r.ratioE4 === null ? null : Number(r.ratioE4),
    }))
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
