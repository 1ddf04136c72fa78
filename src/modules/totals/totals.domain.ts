/**
 * The arithmetic of the totals, canteen and report endpoints: pure functions on integer fen (bigint) and
 * calendar dates, no I/O. Money results are bigint fen; ratios are JSON numbers (half-up, 4 places).
 */
import { dayOfYear, daysInYear, lastDayOfMonth, yearOf } from '../../dates.js'
import { divCeil, divHalfUp, ratio } from '../../money.js'

/** total / target as a ratio, half-up to 4 places; null without a target (or a zero one). */
export function progress(totalFen: bigint, targetFen: bigint | null): number | null {
  return targetFen === null ? null : ratio(totalFen, targetFen)
}

/** max(target − total, 0) in fen, exact; null without a target. */
export function remaining(totalFen: bigint, targetFen: bigint | null): bigint | null {
  if (targetFen === null) return null
  return targetFen > totalFen ? targetFen - totalFen : 0n
}

/** Days elapsed in the year up to and including `asOf` (1 January = 1; 2024 has 366 days). */
export function elapsedDays(asOf: string): number {
  return dayOfYear(asOf)
}

/** target × elapsed / days_in_year in fen, rounded half-up to the fen. */
export function expectedByNow(targetFen: bigint, asOf: string): bigint {
  return divHalfUp(targetFen * BigInt(elapsedDays(asOf)), BigInt(daysInYear(yearOf(asOf))))
}

/** total × days_in_year / elapsed in fen, rounded half-up to the fen (a straight-line forecast). */
export function projectedYearEnd(totalFen: bigint, asOf: string): bigint {
  return divHalfUp(totalFen * BigInt(daysInYear(yearOf(asOf))), BigInt(elapsedDays(asOf)))
}

/** total ≥ expected_by_now, both in fen (so exactly on the line counts as on track). */
export function onTrack(totalFen: bigint, expectedFen: bigint): boolean {
  return totalFen >= expectedFen
}

export interface Pace {
  /** fen, half-up */
  expectedByNow: bigint
  onTrack: boolean
  /** fen, half-up */
  projectedYearEnd: bigint
}

/** expected_by_now, on_track and projected_year_end (fen, half-up); null without a target, per contract. */
export function pace(totalFen: bigint, targetFen: bigint | null, asOf: string): Pace | null {
  if (targetFen === null) return null
  const expected = expectedByNow(targetFen, asOf)
  return {
    expectedByNow: expected,
    onTrack: onTrack(totalFen, expected),
    projectedYearEnd: projectedYearEnd(totalFen, asOf),
  }
}

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

/**
 * The as_of of a totals request: the given date (which must lie in `year`), else today in Asia/Shanghai
 * for the current year and 31 December for a past year. A future year has no default (today lies outside
 * it), so it needs an explicit as_of. Returns an error message instead when the date is not allowed.
 */
export function resolveAsOf(
  year: number,
  asOf: string | undefined,
  today: string,
): string | { error: string } {
  if (asOf !== undefined) {
    return yearOf(asOf) === year ? asOf : { error: `must be a date in ${year}` }
  }
  const thisYear = yearOf(today)
  if (year < thisYear) return `${year}-12-31`
  if (year === thisYear) return today
  return {
    error: `${year} has not started (today is ${today}); give an as_of in ${year} to see its planning figures`,
  }
}
