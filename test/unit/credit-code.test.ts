import fc from 'fast-check'
import t from 'tap'
import { creditCodeCheckChar, creditCodeProblem } from '../../src/modules/purchases/credit-code.js'

const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY'

/** An independent reading of GB 32100-2015 as shared/domain.md states it, to check the module against. */
function referenceCheckChar(first17: string): string {
  let sum = 0
  let w = 1 // 3^0
  for (let i = 0; i < 17; i++) {
    sum += ALPHABET.indexOf(first17[i]!) * w
    w = (w * 3) % 31
  }
  const c = 31 - (sum % 31)
  return ALPHABET[c === 31 ? 0 : c]!
}

/** Codes published as examples (the standard's illustration and well-known companies' business licences). */
const KNOWN_VALID = [
  '91350100M000100Y43',
  '91110108551385082Q',
  '914403001922038216',
  '9144030071526726XG',
  '91330100799655058B',
  '91310000132149237G',
  '91440300708461136T',
  '91110000802100433B',
]

const alphabetChar = fc.constantFrom(...ALPHABET.split(''))
const first17Arb = fc.array(alphabetChar, { minLength: 17, maxLength: 17 }).map((a) => a.join(''))
const validCodeArb = first17Arb.map((f) => f + referenceCheckChar(f))

t.test('known valid codes pass', async (t) => {
  for (const code of KNOWN_VALID) {
    t.equal(creditCodeProblem(code), null, code)
    t.equal(creditCodeCheckChar(code.slice(0, 17)), code[17], `check char of ${code}`)
  }
})

t.test('the check character follows the standard (independent implementation)', async (t) => {
  fc.assert(
    fc.property(first17Arb, (f) => creditCodeCheckChar(f) === referenceCheckChar(f)),
    {
      numRuns: 2_000,
    },
  )
  // The "31 maps to 0" case: a prefix whose weighted sum is ≡ 0 mod 31 has check character '0'.
  t.equal(creditCodeCheckChar('00000000000000000'), '0')
  t.equal(creditCodeProblem('000000000000000000'), null)
  t.pass('property held')
})

t.test('every single-character mutation of a known valid code is rejected (exhaustive)', async (t) => {
  let mutations = 0
  for (const code of KNOWN_VALID) {
    for (let i = 0; i < 18; i++) {
      for (const c of ALPHABET) {
        if (c === code[i]) continue
        const mutated = code.slice(0, i) + c + code.slice(i + 1)
        mutations++
        if (creditCodeProblem(mutated) === null) t.fail(`mutation ${mutated} of ${code} accepted`)
      }
    }
  }
  t.equal(mutations, KNOWN_VALID.length * 18 * 30, 'all mutations tried')
})

t.test('property: a random valid code passes; any single-character change is rejected', async (t) => {
  fc.assert(
    fc.property(
      validCodeArb,
      fc.integer({ min: 0, max: 17 }),
      fc.integer({ min: 1, max: ALPHABET.length - 1 }),
      (code, pos, shift) => {
        if (creditCodeProblem(code) !== null) return false
        const replaced = ALPHABET[(ALPHABET.indexOf(code[pos]!) + shift) % ALPHABET.length]!
        const mutated = code.slice(0, pos) + replaced + code.slice(pos + 1)
        return mutated !== code && creditCodeProblem(mutated) !== null
      },
    ),
    { numRuns: 5_000 },
  )
  t.pass('property held')
})

t.test('property: a character outside the alphabet anywhere is rejected', async (t) => {
  const outside = fc.constantFrom('I', 'O', 'Z', 'S', 'V', 'a', 'y', '-', ' ', '０', '中')
  fc.assert(
    fc.property(validCodeArb, fc.integer({ min: 0, max: 17 }), outside, (code, pos, c) => {
      const mutated = code.slice(0, pos) + c + code.slice(pos + 1)
      return creditCodeProblem(mutated) !== null
    }),
    { numRuns: 2_000 },
  )
  t.pass('property held')
})

t.test('wrong lengths and characters', async (t) => {
  const code = KNOWN_VALID[0]!
  t.match(creditCodeProblem(code.slice(0, 17)), /18 characters/)
  t.match(creditCodeProblem(`${code}0`), /18 characters/)
  t.match(creditCodeProblem(''), /18 characters/)
  t.match(creditCodeProblem(code.toLowerCase()), /may only contain/, 'lowercase is not normalised here')
  t.match(creditCodeProblem(`${code.slice(0, 17)}I`), /may only contain/)
  t.match(creditCodeProblem(`${code.slice(0, 17)}${code[17] === '0' ? '1' : '0'}`), /check character/)
  t.equal(creditCodeCheckChar('9135010OM000100Y4'), null, 'O in the first 17 → null')
  t.equal(creditCodeCheckChar('1234567890'), null, 'fewer than 17 characters → null')
  t.equal(creditCodeCheckChar('123456789012345678'), null, 'more than 17 characters → null')
})
