import type { Principal } from '../../auth/principal.js'
import { visibleOrgRows } from '../../auth/visibility.js'
import { lastDayOfMonth, shanghaiToday } from '../../dates.js'
import { type Db, readSnapshot } from '../../db/client.js'
import { formatMoney, formatMoneyOrNull } from '../../money.js'
import { rollupPlan } from '../../rollups/rollup-plan.js'
import { type SumRow, sumBy } from '../../rollups/rollups.repository.js'
import { type Sum, sumsByKey, ZERO_SUM } from '../../rollups/sums.js'
import { CHANNELS, type Channel } from '../../schemas.js'
import { type CanteenUnit, loadCanteenUnits } from '../canteen/index.js'
import { allRegions } from '../regions/index.js'
import { loadYearTargets, type YearTargets } from '../targets/index.js'
import { progress } from '../totals/index.js'
import type { MonthlyReport } from './reports.schemas.js'

/** Per channel, and market sales per county, of one period's sums. */
function bySumKeys(rows: SumRow[]) {
  return {
    channels: sumsByKey(rows, (r) => r.channel!),
    market: sumsByKey(
      rows.filter((r) => r.channel === 'market_sales'),
      (r) => r.region_code!,
    ),
  }
}

/** A channel's target: per-county market target × counties; canteen: the units' reserved amounts. */
function targetOf(channel: Channel, targets: YearTargets, regionCount: number, reservedFen: bigint) {
  if (channel === 'market_sales') {
    const perRegion = targets.marketPerRegionFen
    return perRegion === null ? null : perRegion * BigInt(regionCount)
  }
  if (channel === 'canteen') return reservedFen > 0n ? reservedFen : null
  return targets.amountFen[channel] ?? null
}

function channelRow(channel: Channel, inMonth: Sum, ytd: Sum, target: bigint | null) {
  return {
    channel,
    month_amount: formatMoney(inMonth.fen),
    month_count: inMonth.count,
    ytd_amount: formatMoney(ytd.fen),
    ytd_count: ytd.count,
    target: formatMoneyOrNull(target),
    progress: progress(ytd.fen, target),
  }
}

/** The declared canteen units whose year-to-date purchases are below their reserved amount. */
function unitsBelow(declared: CanteenUnit[]) {
  return declared
    .filter((u) => u.met === false)
    .map((u) => ({
      org_id: u.orgId,
      org_name: u.orgName,
      reserved: formatMoney(u.reservedFen!),
      purchased: formatMoney(u.purchasedFen),
    }))
}

export function createReportsService(deps: { db: Db; now: () => Date }) {
  return {
    /**
     * The monthly report (每月一报): the month's figures and year to date (1 January to the month's last
     * day), read from whole months of the rollup. A month still running shows what is recorded so far.
     */
    async monthly(principal: Principal, year: number, month: number): Promise<MonthlyReport> {
      const plan = rollupPlan(lastDayOfMonth(year, month), shanghaiToday(deps.now()))
      return readSnapshot(deps.db, async (tx) => {
        const targets = await loadYearTargets(tx, year)
        const regions = await allRegions(tx)
        const units = await loadCanteenUnits(tx, { plan, ratioE4: targets.canteenRatioE4 })
        const ytd = bySumKeys(await sumBy(tx, { plan }, ['channel', 'region_code']))
        const inMonth = bySumKeys(await sumBy(tx, { plan, fromMonth: month }, ['channel', 'region_code']))
        const declared = units.filter((u) => u.reservedFen !== null)
        const reserved = declared.reduce((sum, u) => sum + u.reservedFen!, 0n)
        const perRegion = targets.marketPerRegionFen
        return {
          year,
          month,
          channels: CHANNELS.map((channel) =>
            channelRow(
              channel,
              inMonth.channels.get(channel) ?? ZERO_SUM,
              ytd.channels.get(channel) ?? ZERO_SUM,
              targetOf(channel, targets, regions.length, reserved),
            ),
          ),
          regions: regions.map((region) => {
            const y = ytd.market.get(region.code) ?? ZERO_SUM
            return {
              region_code: region.code,
              name: region.name,
              month_amount: formatMoney((inMonth.market.get(region.code) ?? ZERO_SUM).fen),
              ytd_amount: formatMoney(y.fen),
              target: formatMoneyOrNull(perRegion),
              progress: progress(y.fen, perRegion),
            }
          }),
          canteen_units_below: unitsBelow(visibleOrgRows(principal, declared)),
        }
      })
    },
  }
}
