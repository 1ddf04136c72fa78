/** Calendar dates are `YYYY-MM-DD` strings in Asia/Shanghai; arithmetic is done on UTC midnights. */

const SHANGHAI = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
})

/** Today's date in Asia/Shanghai. */
export function shanghaiToday(now: Date): string {
  return SHANGHAI.format(now)
}

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/

/** True when `s` is `YYYY-MM-DD` and names a real calendar day (no 2023-02-29). */
export function isCalendarDate(s: string): boolean {
  const m = DATE_PATTERN.exec(s)
  if (!m) return false
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))
  return (
    d.getUTCFullYear() === Number(m[1]) &&
    d.getUTCMonth() === Number(m[2]) - 1 &&
    d.getUTCDate() === Number(m[3])
  )
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
}

export function daysInYear(year: number): number {
  return isLeapYear(year) ? 366 : 365
}

/** Day of the year, 1 January = 1 (so it is also the number of days elapsed up to and including `date`). */
export function dayOfYear(date: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  return (Date.UTC(y, m - 1, d) - Date.UTC(y, 0, 1)) / 86_400_000 + 1
}

/** The last day of a month, `YYYY-MM-DD`. */
export function lastDayOfMonth(year: number, month: number): string {
  const d = new Date(Date.UTC(year, month, 0))
  return `${year}-${String(month).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`
}

export function yearOf(date: string): number {
  return Number(date.slice(0, 4))
}
