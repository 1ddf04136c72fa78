import type { Principal } from '../../auth/principal.js'
import { shanghaiToday } from '../../dates.js'
import { type Db, type Executor, inTransaction } from '../../db/client.js'
import { readRows } from '../../db/read.js'
import { forbidden, notFound } from '../../errors.js'
import { formatMoney, formatMoneyOrNull } from '../../money.js'
import { type RollupPlan, rollupPlan } from '../../rollups/rollup-plan.js'
import { sumBy } from '../../rollups/rollups.repository.js'
import { appendAudit } from '../audit/index.js'
import { orgExists, orgNames } from '../orgs/index.js'
import { loadYearTargets } from '../targets/index.js'
import { type CanteenUnit, canteenUnitsOf } from './canteen.domain.js'
import { budgetsOfYear, canteenRepository as repo } from './canteen.repository.js'
import type { CanteenBudgetOut, CanteenUnitOut } from './canteen.schemas.js'

/**
 * Every unit that declared a canteen budget for the plan's year, plus every org with active canteen
 * purchases in the period but no declaration (listed, not hidden), ordered by org name then id.
 */
export async function loadCanteenUnits(
  ex: Executor,
  opts: { plan: RollupPlan; ratioE4: number | null; orgId?: string },
): Promise<CanteenUnit[]> {
  const { plan, ratioE4, orgId } = opts
  const budgets = await readRows(ex, budgetsOfYear(plan.year, orgId))
  const sums = await sumBy(ex, { plan, orgId, channel: 'canteen' }, ['org_id'])
  const purchased = new Map(sums.map((r) => [r.org_id!, r.totalFen]))
  const declared = new Set(budgets.map((b) => b.orgId))
  const names = await orgNames(
    ex,
    [...purchased.keys()].filter((id) => !declared.has(id)),
  )
  return canteenUnitsOf({ budgets, purchased, names, ratioE4 })
}

function toCanteenUnitOut(u: CanteenUnit): CanteenUnitOut {
  return {
    org_id: u.orgId,
    org_name: u.orgName,
    canteen_total: formatMoneyOrNull(u.canteenTotalFen),
    reserved: formatMoneyOrNull(u.reservedFen),
    purchased: formatMoney(u.purchasedFen),
    share: u.share,
    met: u.met,
  }
}

export function createCanteenService(deps: { db: Db; now: () => Date }) {
  /** The whole year's active records (nothing can be dated after today, so this is "so far"). */
  const yearPlan = (year: number) => rollupPlan(`${year}-12-31`, shanghaiToday(deps.now()))

  async function unitsOf(ex: Executor, year: number, orgId?: string) {
    const { canteenRatioE4 } = await loadYearTargets(ex, year)
    return loadCanteenUnits(ex, { plan: yearPlan(year), ratioE4: canteenRatioE4, orgId })
  }

  return {
    /** Admin and finance see every unit; a reporter sees only its own org's row. */
    async list(principal: Principal, year: number) {
      const orgId = principal.role === 'reporter' ? principal.orgId! : undefined
      const units = await unitsOf(deps.db, year, orgId)
      return { year, items: units.map(toCanteenUnitOut) }
    },

    async set(
      principal: Principal,
      year: number,
      orgId: string,
      canteenTotalFen: bigint,
    ): Promise<CanteenBudgetOut> {
      if (principal.role === 'reporter' && principal.orgId !== orgId) {
        throw forbidden('A reporter may declare only its own organization’s canteen budget.')
      }
      return inTransaction(deps.db, async (tx) => {
        if (!(await orgExists(tx, orgId))) throw notFound('Organization')
        await repo.lock(tx, year, orgId)
        const [before] = await readRows(tx, budgetsOfYear(year, orgId))
        await repo.upsert(tx, year, orgId, canteenTotalFen)
        const unit = (await unitsOf(tx, year, orgId)).find((u) => u.orgId === orgId)!
        const after = { year, ...toCanteenUnitOut(unit) }
        await appendAudit(tx, {
          actorKeyId: principal.keyId,
          action: 'canteen_budget.set',
          entity: 'canteen_budget',
          entityId: `${year}/${orgId}`,
          before: before ? { year, org_id: orgId, canteen_total: formatMoney(before.canteenTotalFen) } : null,
          after: { year, org_id: orgId, canteen_total: after.canteen_total },
        })
        return after
      })
    },
  }
}
