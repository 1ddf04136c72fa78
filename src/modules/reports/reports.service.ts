import { lastDayOfMonth, shanghaiToday } from '../../dates.js'
import type { Db } from '../../db/client.js'
import { formatMoney, formatMoneyOrNull } from '../../money.js'
import { CHANNELS } from '../../schemas.js'
import { loadCanteenUnits } from '../canteen/canteen.service.js'
import { regionsRepository } from '../regions/regions.repository.js'
import { loadYearTargets } from '../targets/targets.service.js'
import { progress, rollupPlan } from '../totals/totals.domain.js'
import { sumBy } from '../totals/totals.repository.js'
import { readSnapshot } from '../totals/totals.service.js'
import type { MonthlyReport } from './reports.schemas.js'

type Sum = { fen: bigint; count: number }
const add = (map: Map<string, Sum>, key: string, fen: bigint, count: number) => {
  const s = map.get(key) ?? { fen: 0n, count: 0 }
  map.set(key, { fen: s.fen + fen, count: s.count + count })
}

export function createReportsService(deps: { db: Db; now: () => Date }) {
  return {
    /**
     * The monthly report (每月一报): the month's figures and year to date (1 January to the month's last
     * day), read from whole months of the rollup. A month still running shows what is recorded so far.
     */
    async monthly(year: number, month: number): Promise<MonthlyReport> {
      const plan = rollupPlan(lastDayOfMonth(year, month), shanghaiToday(deps.now()))
      return readSnapshot(deps.db, async (tx) => {
        const targets = await loadYearTargets(tx, year)
        const regions = await regionsRepository.all(tx)
        const units = await loadCanteenUnits(tx, { plan, ratioE4: targets.canteenRatioE4 })
        const ytdRows = await sumBy(tx, { plan }, ['channel', 'region_code'])
        const monthRows = await sumBy(tx, { plan, fromMonth: month }, ['channel', 'region_code'])

        const ytd = new Map<string, Sum>()
        const inMonth = new Map<string, Sum>()
        const marketYtd = new Map<string, Sum>()
        const marketMonth = new Map<string, Sum>()
        for (const r of ytdRows) {
          add(ytd, r.channel!, r.totalFen, r.count)
          if (r.channel === 'market_sales') add(marketYtd, r.region_code!, r.totalFen, r.count)
        }
        for (const r of monthRows) {
          add(inMonth, r.channel!, r.totalFen, r.count)
          if (r.channel === 'market_sales') add(marketMonth, r.region_code!, r.totalFen, r.count)
        }

        const declared = units.filter((u) => u.reservedFen !== null)
        const reserved = declared.reduce((sum, u) => sum + u.reservedFen!, 0n)
        const perRegion = targets.marketPerRegionFen
        const targetOf = (channel: (typeof CHANNELS)[number]): bigint | null => {
          if (channel === 'market_sales')
            return perRegion === null ? null : perRegion * BigInt(regions.length)
          if (channel === 'canteen') return reserved > 0n ? reserved : null
          return targets.amountFen[channel] ?? null
        }
        const zero: Sum = { fen: 0n, count: 0 }

        return {
          year,
          month,
          channels: CHANNELS.map((channel) => {
            const m = inMonth.get(channel) ?? zero
            const y = ytd.get(channel) ?? zero
            const target = targetOf(channel)
            return {
              channel,
              month_amount: formatMoney(m.fen),
              month_count: m.count,
              ytd_amount: formatMoney(y.fen),
              ytd_count: y.count,
              target: formatMoneyOrNull(target),
              progress: progress(y.fen, target),
            }
          }),
          regions: regions.map((region) => {
            const y = marketYtd.get(region.code) ?? zero
            return {
              region_code: region.code,
              name: region.name,
              month_amount: formatMoney((marketMonth.get(region.code) ?? zero).fen),
              ytd_amount: formatMoney(y.fen),
              target: formatMoneyOrNull(perRegion),
              progress: progress(y.fen, perRegion),
            }
          }),
          canteen_units_below: declared
            .filter((u) => u.met === false)
            .map((u) => ({
              org_id: u.orgId,
              org_name: u.orgName,
              reserved: formatMoney(u.reservedFen!),
              purchased: formatMoney(u.purchasedFen),
            })),
        }
      })
    },
  }
}
