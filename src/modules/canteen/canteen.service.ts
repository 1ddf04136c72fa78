import type { Principal } from '../../auth/principal.js'
import { shanghaiToday } from '../../dates.js'
import { type Db, type Executor, inTransaction } from '../../db/client.js'
import { forbidden, notFound } from '../../errors.js'
import { formatMoney, formatMoneyOrNull } from '../../money.js'
import { appendAudit } from '../audit/audit.repository.js'
import { orgsRepository } from '../orgs/orgs.repository.js'
import { loadYearTargets } from '../targets/targets.service.js'
import {
  canteenMet,
  canteenShare,
  type RollupPlan,
  reservedFen,
  rollupPlan,
} from '../totals/totals.domain.js'
import { orgNames, sumBy } from '../totals/totals.repository.js'
import { type BudgetRow, canteenRepository as repo } from './canteen.repository.js'
import type { CanteenBudgetOut, CanteenUnitOut } from './canteen.schemas.js'

/** One budget unit's canteen figures, in fen. */
export interface CanteenUnit {
  orgId: string
  orgName: string
  /** null: the unit declared no budget for the year (it is listed because it has canteen purchases). */
  canteenTotalFen: bigint | null
  /** null when not declared or the year has no canteen ratio. */
  reservedFen: bigint | null
  purchasedFen: bigint
  share: number | null
  met: boolean | null
}

/**
 * Every unit that declared a canteen budget for the plan's year, plus every org with active canteen
 * purchases in the period but no declaration (listed, not hidden), ordered by org name then id.
 */
export async function loadCanteenUnits(
  ex: Executor,
  opts: {
    plan: RollupPlan
    ratioE4: number | null
    orgId?: string
    /** Active canteen amount per org, when the caller already summed it (totals does, with its other sums). */
    purchased?: Map<string, bigint>
  },
): Promise<CanteenUnit[]> {
  const { plan, ratioE4, orgId } = opts
  const budgets = await repo.forYear(ex, plan.year, orgId)
  const purchased =
    opts.purchased ??
    new Map(
      (await sumBy(ex, { plan, orgId, channel: 'canteen' }, ['org_id'])).map((r) => [r.org_id!, r.totalFen]),
    )
  const declared = new Set(budgets.map((b) => b.orgId))
  const names = await orgNames(
    ex,
    [...purchased.keys()].filter((id) => !declared.has(id)),
  )
  return canteenUnitsOf({ budgets, purchased, names, ratioE4 })
}

/**
 * `loadCanteenUnits` without the reads: the declared budgets, the canteen amount per org, and the names of
 * the orgs that bought without declaring.
 */
export function canteenUnitsOf(input: {
  budgets: BudgetRow[]
  purchased: Map<string, bigint>
  names: Map<string, string>
  ratioE4: number | null
}): CanteenUnit[] {
  const { budgets, purchased, names, ratioE4 } = input
  const declared = new Set(budgets.map((b) => b.orgId))
  const undeclaredIds = [...purchased.keys()].filter((id) => !declared.has(id))
  const units: CanteenUnit[] = budgets.map((b) => {
    const bought = purchased.get(b.orgId) ?? 0n
    const reserved = ratioE4 === null ? null : reservedFen(b.canteenTotalFen, ratioE4)
    return {
      orgId: b.orgId,
      orgName: b.orgName,
      canteenTotalFen: b.canteenTotalFen,
      reservedFen: reserved,
      purchasedFen: bought,
      share: canteenShare(bought, b.canteenTotalFen),
      met: canteenMet(bought, reserved),
    }
  })
  for (const id of undeclaredIds) {
    units.push({
      orgId: id,
      orgName: names.get(id) ?? id,
      canteenTotalFen: null,
      reservedFen: null,
      purchasedFen: purchased.get(id)!,
      share: null,
      met: null,
    })
  }
  return units.sort((a, b) =>
    a.orgName < b.orgName
      ? -1
      : a.orgName > b.orgName
        ? 1
        : a.orgId < b.orgId
          ? -1
          : a.orgId > b.orgId
            ? 1
            : 0,
  )
}

export function toCanteenUnitOut(u: CanteenUnit): CanteenUnitOut {
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
        if (!(await orgsRepository.findById(tx, orgId))) throw notFound('Organization')
        await repo.lock(tx, year, orgId)
        const [before] = await repo.forYear(tx, year, orgId)
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
