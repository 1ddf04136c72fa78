/**
 * The canteen arithmetic: each budget unit's reserved share and whether its purchases meet it. Pure
 * functions on integer fen (bigint); ratios are JSON numbers (half-up, 4 places).
 */
import { divCeil, ratio } from '../../money.js'

/** A unit's reserved amount: canteen_total × ratio (ten-thousandths) in fen, rounded up to the fen. */
export function reservedFen(canteenTotalFen: bigint, ratioE4: number): bigint {
  return divCeil(canteenTotalFen * BigInt(ratioE4), 10_000n)
}

/** purchased / canteen_total as a ratio, half-up to 4 places; null when the total is 0 or undeclared. */
export function canteenShare(purchasedFen: bigint, canteenTotalFen: bigint | null): number | null {
  return canteenTotalFen === null ? null : ratio(purchasedFen, canteenTotalFen)
}

/** purchased ≥ reserved (fen, exact); null when nothing is reserved (no declaration or no ratio). */
export function canteenMet(purchasedFen: bigint, reserved: bigint | null): boolean | null {
  return reserved === null ? null : purchasedFen >= reserved
}

/** A unit's declared canteen budget for a year, in fen. */
export interface BudgetRow {
  orgId: string
  orgName: string
  canteenTotalFen: bigint
}

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

function declaredUnit(b: BudgetRow, purchasedFen: bigint, ratioE4: number | null): CanteenUnit {
  const reserved = ratioE4 === null ? null : reservedFen(b.canteenTotalFen, ratioE4)
  return {
    orgId: b.orgId,
    orgName: b.orgName,
    canteenTotalFen: b.canteenTotalFen,
    reservedFen: reserved,
    purchasedFen,
    share: canteenShare(purchasedFen, b.canteenTotalFen),
    met: canteenMet(purchasedFen, reserved),
  }
}

function undeclaredUnit(orgId: string, orgName: string, purchasedFen: bigint): CanteenUnit {
  return { orgId, orgName, canteenTotalFen: null, reservedFen: null, purchasedFen, share: null, met: null }
}

const byNameThenId = (a: CanteenUnit, b: CanteenUnit) =>
  a.orgName < b.orgName ? -1 : a.orgName > b.orgName ? 1 : a.orgId < b.orgId ? -1 : a.orgId > b.orgId ? 1 : 0

/**
 * Every unit that declared a budget, plus every org with canteen purchases but no declaration (listed,
 * not hidden; named from `names`, else by id), ordered by org name then id.
 */
export function canteenUnitsOf(input: {
  budgets: BudgetRow[]
  /** Active canteen amount per org, fen. */
  purchased: Map<string, bigint>
  /** Names of the orgs that bought without declaring. */
  names: Map<string, string>
  ratioE4: number | null
}): CanteenUnit[] {
  const { budgets, purchased, names, ratioE4 } = input
  const declared = new Set(budgets.map((b) => b.orgId))
  const units = budgets.map((b) => declaredUnit(b, purchased.get(b.orgId) ?? 0n, ratioE4))
  for (const [id, fen] of purchased) {
    if (!declared.has(id)) units.push(undeclaredUnit(id, names.get(id) ?? id, fen))
  }
  return units.sort(byNameThenId)
}
