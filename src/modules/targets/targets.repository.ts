import { eq, sql } from 'drizzle-orm'
import type { Tx } from '../../db/client.js'
import type { Read } from '../../db/read.js'
import { targets } from '../../db/schema.js'

export type TargetRow = typeof targets.$inferSelect

/** Advisory-lock namespace for "the targets of one year" (two concurrent replacements queue, never clash). */
const TARGETS_LOCK = 7_401

/** A year's targets by channel; fen as text: JSON-safe. */
export function targetsOfYear(year: number): Read<TargetRow> {
  return {
    sql: sql`select year, channel, kind, scope, amount_fen::text as "amountFen", ratio_e4 as "ratioE4"
               from targets where year = ${year} order by channel`,
    row: (r) => ({
      year: Number(r.year),
      channel: String(r.channel),
      kind: String(r.kind),
      scope: String(r.scope),
      amountFen: r.amountFen === null ? null : BigInt(r.amountFen as string),
      ratioE4: r.ratioE4 === null ? null : Number(r.ratioE4),
    }),
  }
}

export const targetsRepository = {
  /** Serialises replacements of one year's targets until the transaction ends. */
  async lockYear(tx: Tx, year: number): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(${TARGETS_LOCK}::int, ${year}::int)`)
  },
  async replace(tx: Tx, year: number, rows: Omit<TargetRow, 'year'>[]): Promise<void> {
    await tx.delete(targets).where(eq(targets.year, year))
    if (rows.length > 0) await tx.insert(targets).values(rows.map((r) => ({ ...r, year })))
  },
}
