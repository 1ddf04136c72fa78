/** The unified social credit code check (GB 32100-2015): pure, used by the purchase schemas. */

const CREDIT_CODE_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY'
/** w_i = 3^i mod 31 for positions 0..16. */
const CREDIT_CODE_WEIGHTS = Array.from({ length: 17 }, (_, i) => Number(3n ** BigInt(i) % 31n))

/** The check character for the first 17 characters of a credit code, or null if one is outside the alphabet. */
export function creditCodeCheckChar(first17: string): string | null {
  // Not 17 characters: no check character (indexOf('') would otherwise read a missing one as '0').
  if (first17.length !== 17) return null
  let sum = 0
  for (let i = 0; i < 17; i++) {
    const v = CREDIT_CODE_ALPHABET.indexOf(first17[i] ?? '')
    if (v < 0) return null
    sum += v * CREDIT_CODE_WEIGHTS[i]!
  }
  const check = 31 - (sum % 31)
  return CREDIT_CODE_ALPHABET[check === 31 ? 0 : check]!
}

/** Why a credit code is invalid, or null when it is valid. */
export function creditCodeProblem(code: string): string | null {
  if (code.length !== 18) return 'must be 18 characters'
  if (![...code].every((c) => CREDIT_CODE_ALPHABET.includes(c))) {
    return 'may only contain 0-9 and A-H J-N P-R T-U W-Y (no I, O, Z, S, V)'
  }
  if (creditCodeCheckChar(code.slice(0, 17)) !== code[17])
    return 'check character does not match (GB 32100-2015)'
  return null
}
