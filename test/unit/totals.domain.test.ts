import fc from 'fast-check'
import t from 'tap'
import { daysInYear, lastDayOfMonth } from '../../src/dates.js'
import { canteenMet, canteenShare, reservedFen } from '../../src/modules/canteen/canteen.domain.js'
import {
  elapsedDays,
  expectedByNow,
  onTrack,
  pace,
  progress,
  projectedYearEnd,
  remaining,
  resolveAsOf,
} from '../../src/modules/totals/totals.domain.js'
import { formatMoney, parseMoney } from '../../src/money.js'
import { coversWholeYear, rollupPlan } from '../../src/rollups/rollup-plan.js'

const fen = (yuan: string) => parseMoney(yuan)!

t.test('pace in a leap year: 2024 has 366 days', async (t) => {
  t.equal(elapsedDays('2024-06-30'), 182, '31+29+31+30+31+30 days up to and including 30 June')
  // 50 000 000.00 × 182 / 366 = 24 863 387.978… → half-up to the fen
  t.equal(formatMoney(expectedByNow(fen('50000000.00'), '2024-06-30')), '24863387.98')
  // 31 250 000.00 × 366 / 182 = 62 843 406.593… → 62 843 406.59
  t.equal(formatMoney(projectedYearEnd(fen('31250000.00'), '2024-06-30')), '62843406.59')
  t.equal(elapsedDays('2024-12-31'), 366)
  t.equal(formatMoney(expectedByNow(fen('50000000.00'), '2024-12-31')), '50000000.00', 'all of it on 31 Dec')
  // 50 000 000.00 / 366 = 136 612.021… on 1 January
  t.equal(formatMoney(expectedByNow(fen('50000000.00'), '2024-01-01')), '136612.02')
  t.equal(elapsedDays('2024-03-01'), 61, '29 February counts')
})

t.test('pace in a common year: 2025 has 365 days', async (t) => {
  t.equal(elapsedDays('2025-06-30'), 181)
  // 50 000 000.00 × 181 / 365 = 24 794 520.547… → 24 794 520.55
  t.equal(formatMoney(expectedByNow(fen('50000000.00'), '2025-06-30')), '24794520.55')
  // 10 000 000.00 × 365 / 181 = 20 165 745.856… → 20 165 745.86
  t.equal(formatMoney(projectedYearEnd(fen('10000000.00'), '2025-06-30')), '20165745.86')
  t.equal(elapsedDays('2025-03-01'), 60)
  t.equal(formatMoney(expectedByNow(fen('50000000.00'), '2025-12-31')), '50000000.00')
})

t.test('half-up at exactly half a fen', async (t) => {
  // 1.83 yuan = 183 fen × 1 / 366 = 0.5 fen → 1 fen
  t.equal(expectedByNow(183n, '2024-01-01'), 1n)
  // 181 fen × 1 / 366 = 0.4945 fen → 0
  t.equal(expectedByNow(181n, '2024-01-01'), 0n)
  // 1 fen × 366 / 244 = 1.5 fen → 2 fen
  t.equal(elapsedDays('2024-08-31'), 244)
  t.equal(projectedYearEnd(1n, '2024-08-31'), 2n)
})

t.test('progress, remaining and on_track', async (t) => {
  t.equal(progress(fen('31250000.00'), fen('50000000.00')), 0.625)
  t.equal(formatMoney(remaining(fen('31250000.00'), fen('50000000.00'))!), '18750000.00')
  // over-achieved: remaining is 0, progress > 1
  t.equal(progress(fen('12000000.00'), fen('10000000.00')), 1.2)
  t.equal(remaining(fen('12000000.00'), fen('10000000.00')), 0n)
  t.equal(remaining(fen('10000000.00'), fen('10000000.00')), 0n)
  // 2/3 → 0.6667 (half-up at the 4th place); 1/8 = 0.125 exactly
  t.equal(progress(2n, 3n), 0.6667)
  t.equal(progress(1n, 8n), 0.125)
  t.equal(progress(5n, 100_000n), 0.0001, '0.00005 rounds half-up to 0.0001')
  t.equal(progress(0n, fen('10000000.00')), 0)
  t.equal(progress(5n, null), null)
  t.equal(remaining(5n, null), null)
  t.equal(pace(5n, null, '2024-06-30'), null, 'no target, no pace')
  t.equal(onTrack(100n, 100n), true, 'exactly on the line is on track')
  t.equal(onTrack(99n, 100n), false)
  t.same(pace(fen('31250000.00'), fen('50000000.00'), '2024-06-30'), {
    expectedByNow: fen('24863387.98'),
    onTrack: true,
    projectedYearEnd: fen('62843406.59'),
  })
  t.same(pace(0n, fen('10000000.00'), '2024-06-30'), {
    expectedByNow: fen('4972677.60'),
    onTrack: false,
    projectedYearEnd: 0n,
  })
})

t.test('canteen: reserved rounds up to the fen; share and met', async (t) => {
  t.equal(formatMoney(reservedFen(fen('820000.00'), 1000)), '82000.00')
  // 123 456.78 × 0.10 = 12 345.678 → up to 12 345.68
  t.equal(formatMoney(reservedFen(fen('123456.78'), 1000)), '12345.68')
  // 0.01 × 0.10 = 0.001 → 0.01 (never 0 for a declared unit)
  t.equal(formatMoney(reservedFen(fen('0.01'), 1000)), '0.01')
  // 333.33 × 0.15 = 49.9995 → 50.00
  t.equal(formatMoney(reservedFen(fen('333.33'), 1500)), '50.00')
  t.equal(formatMoney(reservedFen(fen('9999999999.99'), 10_000)), '9999999999.99', 'ratio 1')
  t.equal(canteenShare(fen('50000.00'), fen('820000.00')), 0.061, '0.0609756… → 0.0610')
  t.equal(canteenShare(5n, null), null)
  t.equal(canteenMet(fen('82000.00'), fen('82000.00')), true)
  t.equal(canteenMet(fen('81999.99'), fen('82000.00')), false)
  t.equal(canteenMet(5n, null), null)
})

t.test('rollupPlan: whole months from the rollup, at most one partial month', async (t) => {
  const today = '2026-03-15'
  t.same(rollupPlan('2024-06-30', today), { year: 2024, fullThroughMonth: 6, partial: null })
  t.same(rollupPlan('2024-02-29', today), { year: 2024, fullThroughMonth: 2, partial: null }, 'leap Feb end')
  t.same(rollupPlan('2024-06-15', today), {
    year: 2024,
    fullThroughMonth: 5,
    partial: { month: 6, from: '2024-06-01', to: '2024-06-15' },
  })
  t.same(rollupPlan('2024-01-01', today), {
    year: 2024,
    fullThroughMonth: 0,
    partial: { month: 1, from: '2024-01-01', to: '2024-01-01' },
  })
  t.same(rollupPlan('2026-03-15', today), { year: 2026, fullThroughMonth: 3, partial: null }, 'today')
  t.same(rollupPlan('2026-03-20', today), { year: 2026, fullThroughMonth: 3, partial: null }, 'after today')
  t.same(rollupPlan('2026-03-14', today), {
    year: 2026,
    fullThroughMonth: 2,
    partial: { month: 3, from: '2026-03-01', to: '2026-03-14' },
  })
})

t.test('resolveAsOf: defaults and the year rule', async (t) => {
  const today = '2026-03-15'
  t.equal(resolveAsOf(2024, undefined, today), '2024-12-31', 'past year → 31 December')
  t.equal(resolveAsOf(2026, undefined, today), '2026-03-15', 'current year → today')
  t.match(
    resolveAsOf(2027, undefined, today),
    { error: /2027 has not started/ },
    'future year has no default',
  )
  t.equal(resolveAsOf(2027, '2027-02-01', today), '2027-02-01', 'explicit as_of in a future year is allowed')
  t.equal(resolveAsOf(2024, '2024-06-30', today), '2024-06-30')
  t.match(resolveAsOf(2024, '2025-01-01', today), { error: 'must be a date in 2024' })
  t.match(resolveAsOf(2024, '2023-12-31', today), { error: 'must be a date in 2024' })
})

const arbDate = fc
  .record({
    year: fc.integer({ min: 2000, max: 2100 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.nat(),
  })
  .map(({ year, month, day }) => {
    const last = Number(lastDayOfMonth(year, month).slice(8))
    return `${year}-${String(month).padStart(2, '0')}-${String((day % last) + 1).padStart(2, '0')}`
  })
const arbFen = fc.bigInt({ min: 1n, max: 99_999_999_999_999n })

t.test('property: expected_by_now is target × elapsed / days rounded half-up, ≤ target', async (t) => {
  fc.assert(
    fc.property(arbFen, arbDate, (target, asOf) => {
      const e = expectedByNow(target, asOf)
      const days = BigInt(daysInYear(Number(asOf.slice(0, 4))))
      const exact2 = 2n * target * BigInt(elapsedDays(asOf)) // twice the numerator, to compare halves exactly
      // half-up: e − ½ ≤ exact < e + ½, i.e. (2e − 1)·days ≤ 2·target·elapsed < (2e + 1)·days
      return (2n * e - 1n) * days <= exact2 && exact2 < (2n * e + 1n) * days && e <= target
    }),
  )
  t.pass('checked')
})

t.test('property: expected_by_now never decreases as the year goes on', async (t) => {
  fc.assert(
    fc.property(arbFen, arbDate, arbDate, (target, a, b) => {
      const [x, y] = a.slice(0, 4) === b.slice(0, 4) ? [a, b].sort() : [a, a]
      return expectedByNow(target, x!) <= expectedByNow(target, y!)
    }),
  )
  t.pass('checked')
})

t.test('property: projected_year_end is total × days / elapsed rounded half-up', async (t) => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 99_999_999_999_999n }), arbDate, (total, asOf) => {
      const p = projectedYearEnd(total, asOf)
      const elapsed = BigInt(elapsedDays(asOf))
      const exact2 = 2n * total * BigInt(daysInYear(Number(asOf.slice(0, 4))))
      return (2n * p - 1n) * elapsed <= exact2 && exact2 < (2n * p + 1n) * elapsed && p >= total
    }),
  )
  t.pass('checked')
})

t.test('property: reserved is the smallest fen amount ≥ total × ratio', async (t) => {
  fc.assert(
    fc.property(arbFen, fc.integer({ min: 1, max: 10_000 }), (total, e4) => {
      const r = reservedFen(total, e4)
      const exact = total * BigInt(e4) // reserved × 10 000 must reach this
      return r * 10_000n >= exact && (r - 1n) * 10_000n < exact
    }),
  )
  t.pass('checked')
})

t.test(
  'property: remaining + min(total, target) = target; progress > 1 when at least 0.01 % over target',
  async (t) => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 99_999_999_999_999n }), arbFen, (total, target) => {
        const rem = remaining(total, target)!
        const p = progress(total, target)!
        return (
          (total < target ? rem + total === target : rem === 0n) &&
          rem >= 0n &&
          (total * 10_000n >= target * 10_001n ? p > 1 : true) &&
          (total <= target ? p <= 1 : true)
        )
      }),
    )
    t.pass('checked')
  },
)

t.test('coversWholeYear: 31 December, or today and later; not a past day inside the year', async (t) => {
  const today = '2026-03-15'
  t.equal(coversWholeYear('2024-12-31', today), true, 'a past year-end')
  t.equal(coversWholeYear('2024-12-30', today), false, 'the day before a past year-end')
  t.equal(coversWholeYear('2024-06-30', today), false, 'a past month-end')
  t.equal(coversWholeYear('2026-03-15', today), true, 'today')
  t.equal(coversWholeYear('2026-03-14', today), false, 'yesterday')
  t.equal(coversWholeYear('2026-07-01', today), true, 'later this year')
})
