import fc from 'fast-check'
import t from 'tap'
import {
  divCeil,
  divHalfUp,
  fenOfFormatted,
  formatMoney,
  formatRatioE4,
  MAX_AMOUNT_FEN,
  parseMoney,
  parseRatioE4,
  ratio,
} from '../../src/money.js'
import { moneyInput } from '../../src/schemas.js'

const fen = fc.bigInt({ min: 1n, max: MAX_AMOUNT_FEN })

/** Reference half-up division, by comparing twice the remainder with the divisor (sign handled apart). */
function refHalfUp(n: bigint, d: bigint): bigint {
  const negative = n < 0n
  const a = negative ? -n : n
  let q = a / d
  const r = a - q * d
  if (r + r >= d) q += 1n
  return negative ? -q : q
}

/** Reference ceiling division: the smallest q with q·d ≥ n, searched around the truncated quotient. */
function refCeil(n: bigint, d: bigint): bigint {
  const q0 = n / d
  for (const q of [q0 - 1n, q0, q0 + 1n]) if (q * d >= n) return q
  throw new Error('unreachable')
}

t.test('format then parse gives back every amount 0.01 … 9999999999.99', async (t) => {
  fc.assert(
    fc.property(fen, (n) => {
      const s = formatMoney(n)
      return /^[0-9]{1,10}\.[0-9]{2}$/.test(s) && parseMoney(s) === n
    }),
    { numRuns: 20_000 },
  )
  // The edges, explicitly.
  for (const n of [1n, 9n, 10n, 99n, 100n, 101n, MAX_AMOUNT_FEN]) t.equal(parseMoney(formatMoney(n)), n)
  t.equal(formatMoney(MAX_AMOUNT_FEN), '9999999999.99')
  t.equal(formatMoney(1n), '0.01')
})

t.test('parse then format normalises to two fraction digits', async (t) => {
  t.equal(formatMoney(parseMoney('125000.5')!), '125000.50')
  t.equal(formatMoney(parseMoney('125000')!), '125000.00')
  t.equal(formatMoney(parseMoney('0.07')!), '0.07')
  t.equal(formatMoney(parseMoney('0012.30')!), '12.30')
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 9_999_999_999n }),
      fc.integer({ min: 0, max: 99 }),
      (yuan, cents) => {
        const s = `${yuan}.${String(cents).padStart(2, '0')}`
        return formatMoney(parseMoney(s)!) === s
      },
    ),
  )
})

t.test('sums far past the per-record maximum format exactly', async (t) => {
  t.equal(formatMoney(10n ** 22n + 5n), '100000000000000000000.05')
  t.equal(formatMoney(-150n), '-1.50')
  t.equal(formatMoney(0n), '0.00')
})

t.test('divHalfUp agrees with a reference implementation', async () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }),
      fc.bigInt({ min: 1n, max: 10n ** 15n }),
      (n, d) => divHalfUp(n, d) === refHalfUp(n, d),
    ),
    { numRuns: 10_000 },
  )
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 1n, max: 20n }), (n, d) => {
      return divHalfUp(n, d) === refHalfUp(n, d)
    }),
    { numRuns: 5_000 },
  )
})

t.test('divHalfUp rounds exactly-half away from zero and the rest to nearest', async (t) => {
  t.equal(divHalfUp(5n, 2n), 3n)
  t.equal(divHalfUp(7n, 2n), 4n)
  t.equal(divHalfUp(-5n, 2n), -3n)
  t.equal(divHalfUp(4n, 3n), 1n)
  t.equal(divHalfUp(5n, 3n), 2n)
  t.equal(divHalfUp(0n, 7n), 0n)
  // The contract's pace example: 50000000.00 yuan × 182 / 366 days.
  t.equal(formatMoney(divHalfUp(5_000_000_000n * 182n, 366n)), '24863387.98')
  t.throws(() => divHalfUp(1n, 0n), RangeError)
  t.throws(() => divHalfUp(1n, -1n), RangeError)
})

t.test('divCeil agrees with a reference implementation', async (t) => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }),
      fc.bigInt({ min: 1n, max: 10n ** 15n }),
      (n, d) => divCeil(n, d) === refCeil(n, d),
    ),
    { numRuns: 10_000 },
  )
  t.equal(divCeil(1n, 10n), 1n)
  t.equal(divCeil(10n, 10n), 1n)
  t.equal(divCeil(11n, 10n), 2n)
  t.equal(divCeil(-11n, 10n), -1n)
  // Reserved amount: 820000.00 yuan × 0.10 = 82000.00; 0.01 × 0.10 rounds up to 0.01.
  t.equal(formatMoney(divCeil(82_000_000n * 1000n, 10_000n)), '82000.00')
  t.equal(formatMoney(divCeil(1n * 1000n, 10_000n)), '0.01')
  t.throws(() => divCeil(1n, 0n), RangeError)
})

t.test('ratio is the quotient rounded half-up to 4 places, as a JSON number', async (t) => {
  t.equal(ratio(1n, 3n), 0.3333)
  t.equal(ratio(2n, 3n), 0.6667)
  t.equal(ratio(1n, 8n), 0.125)
  t.equal(ratio(5n, 100_000n), 0.0001, '0.00005 rounds up')
  t.equal(ratio(4n, 100_000n), 0)
  t.equal(ratio(3_125_000_000n, 5_000_000_000n), 0.625)
  t.equal(ratio(3n, 2n), 1.5, 'over 100 % is fine')
  t.equal(ratio(0n, 5n), 0)
  t.equal(ratio(5n, 0n), null, 'no denominator, no ratio')
  // Ratios up to 1000 (100 000 %) with money-sized operands: every one prints as its exact 4-place decimal.
  const operands = fc
    .bigInt({ min: 1n, max: 10n ** 14n })
    .chain((d) => fc.tuple(fc.bigInt({ min: 0n, max: d * 1000n }), fc.constant(d)))
  fc.assert(
    fc.property(operands, ([n, d]) => {
      const r = ratio(n, d)!
      const e4 = refHalfUp(n * 10_000n, d)
      // The JSON number prints as the exact 4-place decimal and is the half-up rounding of n/d.
      const printed = String(r)
      const expected = `${e4 / 10_000n}${e4 % 10_000n === 0n ? '' : `.${(e4 % 10_000n).toString().padStart(4, '0').replace(/0+$/, '')}`}`
      return printed === expected
    }),
    { numRuns: 10_000 },
  )
})

t.test('ratio strings', async (t) => {
  t.equal(parseRatioE4('0.10'), 1000)
  t.equal(parseRatioE4('0.15'), 1500)
  t.equal(parseRatioE4('1'), 10_000)
  t.equal(parseRatioE4('0.0001'), 1)
  for (const bad of ['0', '0.0', '1.5', '0.00001', '.1', '10%', '-0.1', '2'])
    t.equal(parseRatioE4(bad), null, bad)
  t.equal(formatRatioE4(1000), '0.10')
  t.equal(formatRatioE4(1234), '0.1234')
  t.equal(formatRatioE4(10_000), '1.00')
  fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), (e4) => parseRatioE4(formatRatioE4(e4)) === e4))
})

t.test('money strings the contract accepts', async (t) => {
  for (const ok of ['0.01', '1', '1.5', '125000.50', '9999999999.99', '0012.30']) {
    t.ok(moneyInput.safeParse(ok).success, `"${ok}" accepted`)
    t.not(parseMoney(ok), null)
  }
})

t.test('money inputs the contract rejects', async (t) => {
  const malformed = [
    '1.005',
    '1e3',
    '12,000',
    '１２',
    '12345678901',
    '-1',
    ' 1',
    '1 ',
    '1.',
    '.5',
    '',
    '+1',
    '0x10',
    'NaN',
    'Infinity',
    '1.2.3',
    '١٢',
  ]
  for (const s of malformed) {
    t.equal(parseMoney(s), null, `parseMoney("${s}") is null`)
    t.notOk(moneyInput.safeParse(s).success, `"${s}" rejected`)
  }
  for (const zero of ['0', '0.00', '0.0', '0000000000.00']) {
    t.equal(parseMoney(zero), 0n, `"${zero}" is well-formed`)
    const r = moneyInput.safeParse(zero)
    t.notOk(r.success, `"${zero}" rejected: not greater than 0`)
    t.match(r.error?.issues[0]?.message, /greater than 0/)
  }
  for (const notString of [125000.5, 1, 0, null, true, ['1'], { amount: '1' }]) {
    const r = moneyInput.safeParse(notString)
    t.notOk(r.success, `${JSON.stringify(notString)} rejected`)
    t.match(r.error?.issues[0]?.message, /decimal string/, 'says to send a decimal string')
  }
})

t.test('fenOfFormatted: any formatted amount, sums beyond one record included', async (t) => {
  t.equal(fenOfFormatted('0.00'), 0n)
  t.equal(fenOfFormatted('29999999999.97'), 2999999999997n)
  t.equal(fenOfFormatted('-12.05'), -1205n)
  t.equal(fenOfFormatted(formatMoney(2n ** 70n)), 2n ** 70n, 'round trip far past 2^53')
  for (const bad of ['1', '1.5', '1.505', '1e3', '', ' 1.00']) {
    t.throws(() => fenOfFormatted(bad), JSON.stringify(bad))
  }
})
