import { and, asc, eq, sql } from 'drizzle-orm'
import type { Executor, Tx } from '../../db/client.js'
import { canteenBudgets, orgs } from '../../db/schema.js'

export interface BudgetRow {
  orgId: string
  orgName: string
  canteenTotalFen: bigint
}

/** Advisory-lock namespace for "one unit's budget of one year", so before/after in the audit log are exact. */
const CANTEEN_LOCK = 7_402

export const canteenRepository = {
  async forYear(ex: Executor, year: number, orgId?: string): Promise<BudgetRow[]> {
    return ex
      .select({
        orgId: canteenBudgets.orgId,
        orgName: orgs.name,
        canteenTotalFen: canteenBudgets.canteenTotalFen,
      })
      .from(canteenBudgets)
      .innerJoin(orgs, eq(orgs.id, canteenBudgets.orgId))
      .where(
        and(eq(canteenBudgets.year, year), orgId === undefined ? undefined : eq(canteenBudgets.orgId, orgId)),
      )
      .orderBy(asc(orgs.name))
  },
  async lock(tx: Tx, year: number, orgId: string): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(${CANTEEN_LOCK}::int, hashtext(${`${year}:${orgId}`}))`)
  },
  async upsert(tx: Tx, year: number, orgId: string, canteenTotalFen: bigint): Promise<void> {
    await tx
      .insert(canteenBudgets)
      .values({ year, orgId, canteenTotalFen })
      .onConflictDoUpdate({
        target: [canteenBudgets.year, canteenBudgets.orgId],
        set: { canteenTotalFen, updatedAt: sql`now()` },
      })
  },
}
