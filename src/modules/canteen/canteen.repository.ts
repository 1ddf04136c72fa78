import { and, asc, eq, type SQL, sql } from 'drizzle-orm'
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
  /** `forYear` as one query for `queryRowSets` (fen as text: JSON-safe). */
  forYearSql(year: number, orgId?: string): SQL {
    return sql`select b.org_id as "orgId", o.name as "orgName", b.canteen_total_fen::text as "canteenTotalFen"
                 from canteen_budgets b join orgs o on o.id = b.org_id
                where b.year = ${year} ${orgId === undefined ? sql`` : sql`and b.org_id = ${orgId}`}`
  },
  /** `forYearSql`'s JSON rows back as BudgetRows. */
  fromJson(rows: Record<string, unknown>[]): BudgetRow[] {
    return rows.map((r) => ({
      orgId: String(r.orgId),
      orgName: String(r.orgName),
      canteenTotalFen: BigInt(r.canteenTotalFen as string),
    }))
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
