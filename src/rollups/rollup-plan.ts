/**
 * Which rollup answers a period "1 January .. asOf": pure date logic, shared by totals, canteen and the
 * monthly report.
 */
import { lastDayOfMonth, yearOf } from '../dates.js'

/**
 * How to read sums of active purchases with occurred_on ≤ asOf from the monthly rollup:
 * months 1..fullThroughMonth come from `purchase_totals`; when asOf falls inside a month and is before
 * today, that month is summed from `purchases` over [partial.from, partial.to] instead (records are
 * never dated in the future, so from today on the rollup's current month is already exact).
 */
export interface RollupPlan {
  year: number
  fullThroughMonth: number
  partial: { month: number; from: string; to: string } | null
}

/** Splits "1 January .. asOf" into whole rollup months and at most one partial month (see RollupPlan). */
export function rollupPlan(asOf: string, today: string): RollupPlan {
  const year = yearOf(asOf)
  const month = Number(asOf.slice(5, 7))
  if (asOf === lastDayOfMonth(year, month) || asOf >= today) {
    return { year, fullThroughMonth: month, partial: null }
  }
  return { year, fullThroughMonth: month - 1, partial: { month, from: `${asOf.slice(0, 8)}01`, to: asOf } }
}

/**
 * Whether "1 January .. asOf" holds every record of asOf's year — asOf is 31 December, or today or later
 * (records are never dated in the future) — so the whole-year rollups can answer instead of the monthly one.
 */
export function coversWholeYear(asOf: string, today: string): boolean {
  return asOf.endsWith('-12-31') || asOf >= today
}
