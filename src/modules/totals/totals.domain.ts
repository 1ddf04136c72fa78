/**
 * The arithmetic of the totals endpoint (progress and pace; the monthly report uses `progress` too): pure
 * functions on integer fen (bigint) and calendar dates, no I/O. Money results are bigint fen; ratios are
 * JSON numbers (half-up, 4 places).
 */
import { dayOfYear, daysInYear, yearOf } from '../../dates.js'
import { divHalfUp, ratio } from '../../money.js'

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
