import t from 'tap'
import {
  dayOfYear,
  daysInYear,
  isCalendarDate,
  isLeapYear,
  lastDayOfMonth,
  shanghaiToday,
  yearOf,
} from '../../src/dates.js'

t.test('dayOfYear counts 1 January as day 1', async (t) => {
  t.equal(dayOfYear('2024-01-01'), 1)
  t.equal(dayOfYear('2024-06-30'), 182)
  t.equal(dayOfYear('2024-12-31'), 366)
  t.equal(dayOfYear('2023-12-31'), 365)
  t.equal(dayOfYear('2023-03-01'), 60)
  t.equal(dayOfYear('2024-03-01'), 61)
})

t.test('daysInYear and leap years', async (t) => {
  t.equal(daysInYear(2024), 366)
  t.equal(daysInYear(2023), 365)
  t.equal(daysInYear(1900), 365)
  t.equal(daysInYear(2000), 366)
  t.equal(daysInYear(2100), 365)
  t.notOk(isLeapYear(2100))
})

t.test('isCalendarDate accepts real days only', async (t) => {
  for (const ok of ['2024-02-29', '2000-02-29', '2023-12-31', '2024-01-01']) t.ok(isCalendarDate(ok), ok)
  for (const bad of [
    '2023-02-29',
    '1900-02-29',
    '2024-02-30',
    '2024-04-31',
    '2024-13-01',
    '2024-00-10',
    '2024-01-00',
    '2024-1-05',
    '20240105',
    '2024-01-05T00:00:00Z',
    ' 2024-01-05',
    '２０２４-01-05',
    '',
  ]) {
    t.notOk(isCalendarDate(bad), `"${bad}" rejected`)
  }
})

t.test('Asia/Shanghai today, month ends and years', async (t) => {
  t.equal(shanghaiToday(new Date('2024-06-30T15:59:59Z')), '2024-06-30')
  t.equal(shanghaiToday(new Date('2024-06-30T16:00:00Z')), '2024-07-01', 'midnight in Shanghai is 16:00 UTC')
  t.equal(shanghaiToday(new Date('2023-12-31T16:00:00Z')), '2024-01-01')
  t.equal(lastDayOfMonth(2024, 2), '2024-02-29')
  t.equal(lastDayOfMonth(2023, 2), '2023-02-28')
  t.equal(lastDayOfMonth(2024, 12), '2024-12-31')
  t.equal(lastDayOfMonth(2024, 4), '2024-04-30')
  t.equal(yearOf('2024-05-20'), 2024)
})
