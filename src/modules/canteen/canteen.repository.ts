import { sql } from 'drizzle-orm'
import type { Tx } from '../../db/client.js'
import type { Read } from '../../db/read.js'
import { canteenBudgets } from '../../db/schema.js'
import type { BudgetRow } from './canteen.domain.js'

/** Advisory-lock namespace for "one unit's budget of one year", so before/after in the audit log are exact. */
const CANTEEN_LOCK = 7_402

/** The year's declared budgets (one org's, when given), with org names; fen as text: JSON-safe. */
export function budgetsOfYear(year: number, orgId?: string): Read<BudgetRow> {
  return {
    sql: sql`select b.org_id as "orgId", o.name as "orgName", b.canteen_total_fen::text as "canteenTotalFen"
               from canteen_budgets b join orgs o on o.id = b.org_id
              where b.year = ${year} ${orgId === undefined ? sql`` : sql`and b.org_id = ${orgId}`}`,
    row: (r) => ({
      orgId: String(r.orgId),
      orgName: String(r.orgName),
      canteenTotalFen: BigInt(r.canteenTotalFen as string),
    }),
  }
}

export const canteenRepository = {
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
