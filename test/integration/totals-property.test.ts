/**
 * Property: for random sets of records (random channels, counties, orgs, dates, amounts up to the maximum,
 * some voided), `GET /v1/totals`, every `by` of `GET /v1/totals/breakdown` and the monthly report agree with
 * each other and with sums computed here from the records themselves, with exact bigint arithmetic.
 * Each run voids its records afterwards, so the next run starts again from zero totals.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { createPurchases, getOk, putBudget, voidPurchase } from '../api.js'
import { CHANNELS, createOrgWithReporter, fenOf, REGIONS, yuan } from '../factories.js'
import { buildTestApp, FIXED_NOW } from '../helper.js'

const BUDGETS = ['500000.00', '12345.67'] // orgs 0 and 1 declare; 2 and 3 do not
const RATIO_E4: Record<number, number | null> = { 2023: null, 2024: 1000, 2026: null }

const pad = (n: number) => String(n).padStart(2, '0')
const lastDay = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate()
const dateIn = (y: number, dayOfYear: number) =>
  new Date(Date.UTC(y, 0, dayOfYear)).toISOString().slice(0, 10)

const arbRecord = fc.record({
  channel: fc.constantFrom(...CHANNELS),
  amountFen: fc.oneof(fc.bigInt({ min: 1n, max: 100_000n }), fc.bigInt({ min: 1n, max: 999_999_999_999n })),
  dayOfYear: fc.integer({ min: 1, max: 366 }),
  org: fc.integer({ min: 0, max: 3 }),
  region: fc.integer({ min: 0, max: REGIONS.length - 1 }),
  voided: fc.integer({ min: 0, max: 9 }).map((n) => n < 3),
})

const arbCase = fc.record({
  year: fc.constantFrom(2023, 2024, 2026),
  records: fc.array(arbRecord, { maxLength: 30 }),
  asOfDay: fc.integer({ min: 1, max: 366 }),
  month: fc.integer({ min: 1, max: 12 }),
  filterChannel: fc.constantFrom(...CHANNELS),
})

type Sum = { fen: bigint; count: number }
const tally = (recs: { amountFen: bigint }[]): Sum => ({
  fen: recs.reduce((s, r) => s + r.amountFen, 0n),
  count: recs.length,
})
type Row = { key: string; label: string; total: string; count: number }

t.test('totals, breakdowns and the monthly report agree with each other and with the records', async (t) => {
  const ctx = await buildTestApp(t, { now: FIXED_NOW })
  const orgs = [
    await createOrgWithReporter(ctx, 'agency'),
    await createOrgWithReporter(ctx, 'agency'),
    await createOrgWithReporter(ctx, 'market'),
    await createOrgWithReporter(ctx, 'enterprise'),
  ]
  const orgIds = orgs.map((o) => o.orgId)
  const names = new Map<string, string>()
  for (const id of orgIds) names.set(id, (await getOk<{ name: string }>(ctx, `/v1/orgs/${id}`)).name)
  for (const year of [2023, 2024, 2026]) {
    for (const [i, total] of BUDGETS.entries()) await putBudget(ctx, year, orgIds[i]!, total)
  }
  let runs = 0

  await fc.assert(
    fc.asyncProperty(arbCase, async (c) => {
      runs++
      const daysInYear = lastDay(c.year, 2) === 29 ? 366 : 365
      // Records cannot be dated in the future, so the current year's records stop at today.
      const maxDay = c.year === 2026 ? 74 : daysInYear // FIXED_NOW is 2026-03-15, day 74
      const recs = c.records.map((r) => ({ ...r, date: dateIn(c.year, ((r.dayOfYear - 1) % maxDay) + 1) }))
      const asOf = dateIn(c.year, ((c.asOfDay - 1) % daysInYear) + 1)
      const ids: string[] = await createPurchases(
        ctx,
        ctx.adminAuth,
        recs.map((r) => ({
          channel: r.channel,
          amount: yuan(r.amountFen),
          occurred_on: r.date,
          org_id: orgIds[r.org],
          region_code: REGIONS[r.region],
        })),
      ).then((records) => records.map((p) => p.id))
      const live = new Set<string>(ids)
      try {
        for (const [i, r] of recs.entries()) {
          if (r.voided) {
            await voidPurchase(ctx, ctx.adminAuth, ids[i]!)
            live.delete(ids[i]!)
          }
        }
        const active = recs.filter((r) => !r.voided)
        const upTo = (date: string) => active.filter((r) => r.date <= date)
        const counted = upTo(asOf)

        // --- GET /v1/totals against the records
        const totals = await getOk<{
          as_of: string
          grand_total: string
          channels: (Record<string, unknown> & {
            channel: string
            total: string
            count: number
            regions?: { region_code: string; total: string; count: number }[]
          })[]
        }>(ctx, `/v1/totals?year=${c.year}&as_of=${asOf}`)
        assert.equal(totals.as_of, asOf)
        assert.equal(totals.grand_total, yuan(tally(counted).fen))
        for (const ch of CHANNELS) {
          const got = totals.channels.find((x) => x.channel === ch)!
          const want = tally(counted.filter((r) => r.channel === ch))
          assert.deepEqual([got.total, got.count], [yuan(want.fen), want.count], `totals ${ch}`)
        }
        const market = totals.channels.find((x) => x.channel === 'market_sales')!
        assert.deepEqual(
          market.regions!.map((r) => [r.region_code, r.total, r.count]),
          REGIONS.map((code, i) => {
            const s = tally(counted.filter((r) => r.channel === 'market_sales' && r.region === i))
            return [code, yuan(s.fen), s.count]
          }),
        )
        const canteen = totals.channels.find((x) => x.channel === 'canteen')!
        const canteenBy = (org: number, recsIn: typeof counted) =>
          tally(recsIn.filter((r) => r.channel === 'canteen' && r.org === org)).fen
        const ratio = RATIO_E4[c.year] ?? null
        const reserved = BUDGETS.map((b) =>
          ratio === null ? null : (fenOf(b) * BigInt(ratio) + 9_999n) / 10_000n,
        )
        assert.equal(canteen.units, BUDGETS.length)
        assert.equal(
          canteen.units_without_budget,
          [2, 3].filter((o) => counted.some((r) => r.channel === 'canteen' && r.org === o)).length,
        )
        assert.equal(
          canteen.units_met,
          ratio === null ? null : BUDGETS.filter((_, o) => canteenBy(o, counted) >= reserved[o]!).length,
        )

        // --- every breakdown against the records, and adding up to the totals
        const breakdown = async (q: string) =>
          (await getOk<{ rows: Row[] }>(ctx, `/v1/totals/breakdown?year=${c.year}&as_of=${asOf}&${q}`)).rows
        const asPairs = (rows: Row[]) => rows.map((r) => [r.key, r.total, r.count])
        const sumRows = (rows: Row[]) => [
          yuan(rows.reduce((s, r) => s + fenOf(r.total), 0n)),
          rows.reduce((n, r) => n + r.count, 0),
        ]
        const grand = [totals.grand_total, counted.length]

        const byChannel = await breakdown('by=channel')
        assert.deepEqual(
          asPairs(byChannel),
          totals.channels.map((ch) => [ch.channel, ch.total, ch.count]),
        )
        const byMonth = await breakdown('by=month')
        assert.deepEqual(
          asPairs(byMonth),
          Array.from({ length: Number(asOf.slice(5, 7)) }, (_, i) => {
            const key = `${c.year}-${pad(i + 1)}`
            const s = tally(counted.filter((r) => r.date.startsWith(key)))
            return [key, yuan(s.fen), s.count]
          }),
        )
        const byRegion = await breakdown('by=region')
        assert.deepEqual(
          asPairs(byRegion),
          REGIONS.map((code, i) => {
            const s = tally(counted.filter((r) => r.region === i))
            return [code, yuan(s.fen), s.count]
          }),
        )
        const byOrg = await breakdown('by=org')
        assert.deepEqual(
          new Map(asPairs(byOrg).map(([k, ...v]) => [k, v])),
          new Map(
            orgIds
              .map((id, i) => [id, tally(counted.filter((r) => r.org === i))] as const)
              .filter(([, s]) => s.count > 0)
              .map(([id, s]) => [id, [yuan(s.fen), s.count]]),
          ),
        )
        assert.ok(byOrg.every((r) => r.label === names.get(r.key)))
        for (const rows of [byChannel, byMonth, byRegion, byOrg]) assert.deepEqual(sumRows(rows), grand)

        const ch = c.filterChannel
        const channelTotal = totals.channels.find((x) => x.channel === ch)!
        for (const by of ['month', 'region', 'org', 'channel']) {
          const rows = await breakdown(`by=${by}&channel=${ch}`)
          assert.deepEqual(sumRows(rows), [channelTotal.total, channelTotal.count], `by=${by}&channel=${ch}`)
        }
        const org0 = await getOk<{ grand_total: string }>(
          ctx,
          `/v1/totals?year=${c.year}&as_of=${asOf}&org_id=${orgIds[0]}`,
        )
        assert.equal(org0.grand_total, yuan(tally(counted.filter((r) => r.org === 0)).fen))

        // --- the monthly report against the records and against totals at the month's last day
        const monthEnd = `${c.year}-${pad(c.month)}-${pad(lastDay(c.year, c.month))}`
        const ytd = upTo(monthEnd)
        const inMonth = ytd.filter((r) => r.date.startsWith(`${c.year}-${pad(c.month)}`))
        const report = await getOk<{
          channels: {
            channel: string
            month_amount: string
            month_count: number
            ytd_amount: string
            ytd_count: number
          }[]
          regions: { region_code: string; month_amount: string; ytd_amount: string }[]
          canteen_units_below: { org_id: string; reserved: string; purchased: string }[]
        }>(ctx, `/v1/reports/monthly?year=${c.year}&month=${c.month}`)
        const atMonthEnd = await getOk<{ channels: { channel: string; total: string; count: number }[] }>(
          ctx,
          `/v1/totals?year=${c.year}&as_of=${monthEnd}`,
        )
        assert.deepEqual(
          report.channels.map((x) => [x.channel, x.month_amount, x.month_count, x.ytd_amount, x.ytd_count]),
          CHANNELS.map((chn) => {
            const m = tally(inMonth.filter((r) => r.channel === chn))
            const y = tally(ytd.filter((r) => r.channel === chn))
            return [chn, yuan(m.fen), m.count, yuan(y.fen), y.count]
          }),
        )
        assert.deepEqual(
          report.channels.map((x) => [x.channel, x.ytd_amount, x.ytd_count]),
          atMonthEnd.channels.map((x) => [x.channel, x.total, x.count]),
          'report year to date = totals at the month’s last day',
        )
        assert.deepEqual(
          report.regions.map((x) => [x.region_code, x.month_amount, x.ytd_amount]),
          REGIONS.map((code, i) => {
            const mkt = (rs: typeof ytd) =>
              yuan(tally(rs.filter((r) => r.channel === 'market_sales' && r.region === i)).fen)
            return [code, mkt(inMonth), mkt(ytd)]
          }),
        )
        assert.deepEqual(
          report.canteen_units_below.map((u) => [u.org_id, u.reserved, u.purchased]),
          BUDGETS.map((_, o) => o)
            .filter((o) => reserved[o] !== null && canteenBy(o, ytd) < reserved[o]!)
            .sort((x, y) => (names.get(orgIds[x]!)! < names.get(orgIds[y]!)! ? -1 : 1))
            .map((o) => [orgIds[o], yuan(reserved[o]!), yuan(canteenBy(o, ytd))]),
        )
      } finally {
        for (const id of live) await voidPurchase(ctx, ctx.adminAuth, id)
      }
      const after = await getOk<{ grand_total: string }>(
        ctx,
        `/v1/totals?year=${c.year}&as_of=${c.year}-12-31`,
      )
      assert.equal(after.grand_total, '0.00', 'voiding every record brings the totals back to zero')
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 20) },
  )
  t.ok(runs >= 1, `${runs} random record sets checked`)
})
