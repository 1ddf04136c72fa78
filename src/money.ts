/**
 * Money is integer fen (bigint) inside the service and a decimal string in yuan outside.
 * Nothing here touches floating point except `ratio`, whose result is a JSON number by contract.
 */

/** The contract's request format: 1–10 integer digits, optional 1–2 fraction digits, ASCII only. */
export const MONEY_PATTERN = /^[0-9]{1,10}(\.[0-9]{1,2})?$/
export const MAX_AMOUNT_FEN = 999_999_999_999n

/** Parses a contract money string to fen; returns null when the string is not in the contract's format. */
export function parseMoney(input: string): bigint | null {
  if (!MONEY_PATTERN.test(input)) return null
  const [whole, frac = ''] = input.split('.')
  return BigInt(whole!) * 100n + BigInt(frac.padEnd(2, '0'))
}

/**
 * The fen of an amount this service formatted (`formatMoney`): two fraction digits, any size, maybe
 * negative. Unlike `parseMoney` (a request's amount, at most 10 integer digits), a sum of many records may
 * be larger than any one record.
 */
export function fenOfFormatted(amount: string): bigint {
  if (!/^-?[0-9]+\.[0-9]{2}$/.test(amount))
    throw new Error(`not an amount formatted by formatMoney: ${amount}`)
  return BigInt(amount.replace('.', ''))
}

/** Formats fen as yuan with exactly two fraction digits ("-" for negatives). */
export function formatMoney(fen: bigint): string {
  const sign = fen < 0n ? '-' : ''
  const abs = fen < 0n ? -fen : fen
  const frac = (abs % 100n).toString().padStart(2, '0')
  return `${sign}${abs / 100n}.${frac}`
}

/** `formatMoney` for an amount that may be absent (no target, nothing reserved …): null stays null. */
export function formatMoneyOrNull(fen: bigint | null): string | null {
  return fen === null ? null : formatMoney(fen)
}

/** n / d rounded half-up (away from zero at .5) for n ≥ 0, d > 0. */
export function divHalfUp(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('divisor must be positive')
  if (n < 0n) return -divHalfUp(-n, d)
  return (2n * n + d) / (2n * d)
}

/** n / d rounded up (toward +∞) for d > 0. */
export function divCeil(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('divisor must be positive')
  const q = n / d
  return n % d > 0n ? q + 1n : q
}

/** n / d as a JSON number rounded half-up to 4 decimal places; null when d is 0. */
export function ratio(n: bigint, d: bigint): number | null {
  if (d === 0n) return null
  const e4 = divHalfUp(n * 10_000n, d)
  return Number(e4) / 10_000
}

/** The contract's ratio string ("0.10", "0.15", "1"): 0 < r ≤ 1 with at most 4 fraction digits. */
const RATIO_PATTERN = /^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$/

/** Parses a ratio string to ten-thousandths ("0.10" → 1000); null when malformed or not in (0, 1]. */
export function parseRatioE4(input: string): number | null {
  if (!RATIO_PATTERN.test(input)) return null
  const [whole, frac = ''] = input.split('.')
  const e4 = Number(whole) * 10_000 + Number(frac.padEnd(4, '0'))
  return e4 > 0 ? e4 : null
}

/** Formats ten-thousandths as a ratio string with at least two fraction digits (1000 → "0.10"). */
export function formatRatioE4(e4: number): string {
  const whole = Math.floor(e4 / 10_000)
  let frac = String(e4 % 10_000).padStart(4, '0')
  while (frac.length > 2 && frac.endsWith('0')) frac = frac.slice(0, -1)
  return `${whole}.${frac}`
}
