import { sql } from 'drizzle-orm'
import { shanghaiToday } from '../../dates.js'
import { type Db, queryRowSets, type Tx } from '../../db/client.js'
import { validationFailed } from '../../errors.js'
import { formatMoney, formatMoneyOrNull, formatRatioE4, ratio } from '../../money.js'
import { CHANNEL_LABELS, CHANNELS, type Channel } from '../../schemas.js'
import { canteenRepository } from '../canteen/canteen.repository.js'
import { canteenUnitsOf } from '../canteen/canteen.service.js'
import { targetsRepository } from '../targets/targets.repository.js'
import { yearTargetsOf } from '../targets/targets.service.js'
import { coversWholeYear, pace, progress, remaining, resolveAsOf, rollupPlan } from './totals.domain.js'
import { canteenYearSumSql, type SumDim, sumSql, toSumRows, yearSumSql } from './totals.repository.js'
import type {
  BreakdownOut,
  BreakdownQuery,
  ChannelTotalsOut,
  TotalsOut,
  TotalsQuery,
} from './totals.schemas.js'

/** total, count, target, progress, remaining and pace of one channel or county, formatted for the API. */
export function paceFigures(totalFen: bigint, count: number, targetFen: bigint | null, asOf: string) {
  const p = pace(totalFen, targetFen, asOf)
  return {
    total: formatMoney(totalFen),
    count,
    target: formatMoneyOrNull(targetFen),
    progress: progress(totalFen, targetFen),
    remaining: formatMoneyOrNull(remaining(totalFen, targetFen)),
    expected_by_now: p ? formatMoney(p.expectedByNow) : null,
    on_track: p ? p.onTrack : null,
    projected_year_end: p ? formatMoney(p.projectedYearEnd) : null,
  }
}

/**
 * Runs reads in one REPEATABLE READ, read-only transaction, so every figure of a response comes from the
 * same snapshot (a purchase committed half-way through cannot make two figures disagree).
 */
export function readSnapshot<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(fn, { isolationLevel: 'repeatable read', accessMode: 'read only' })
}

/** One row when the org exists (or none is asked about), none otherwise: `queryRowSets`' org check. */
const orgCheckSql = (orgId: string | undefined) =>
  orgId === undefined ? sql`select 1 as ok` : sql`select 1 as ok from orgs where id = ${orgId}`

/** The `select code, name from regions` rows of a `queryRowSets`, by code. */
const regionsOf = (rows: Record<string, unknown>[]) =>
  rows.map((r) => ({ code: String(r.code), name: String(r.name) })).sort((a, b) => (a.code < b.code ? -1 : 1))

const noSuchOrg = () =>
  validationFailed([{ path: '/querystring/org_id', message: 'no organization has this id' }])

export function createTotalsService(deps: { db: Db; now: () => Date }) {
  /**
   * Today, the request's as_of (given, or its default) and the rollup plan, from one reading of the clock:
   * the as_of default, the plan and the year-rollup choice all judge the same day.
   */
  function datesOf(year: number, asOfGiven: string | undefined) {
    const today = shanghaiToday(deps.now())
    const asOf = resolveAsOf(year, asOfGiven, today)
    if (typeof asOf !== 'string') {
      throw validationFailed([
        { path: asOfGiven === undefined ? '/querystring/year' : '/querystring/as_of', message: asOf.error },
      ])
    }
    return { today, asOf, plan: rollupPlan(asOf, today) }
  }

  return {
    async totals(q: TotalsQuery): Promise<TotalsOut> {
      const { today, asOf, plan } = datesOf(q.year, q.as_of)
      // Every read of the response in one statement: one round trip and one snapshot. Each figure and its
      // breakdown come from one query: the canteen channel's total and count are the sum of the per-org
      // rows its units list, market sales' of its per-region rows.
      // A year to date for the whole district reads the year rollups (a few hundred rows); an org's
      // totals, or a cut-off inside the year, the monthly one.
      const wholeYear = q.org_id === undefined && coversWholeYear(asOf, today)
      const canteenSums = wholeYear
        ? canteenYearSumSql(q.year)
        : sumSql({ plan, orgId: q.org_id, channel: 'canteen' }, ['org_id'])
      const sets = await queryRowSets(deps.db, {
        org: orgCheckSql(q.org_id),
        targets: targetsRepository.forYearSql(q.year),
        regions: sql`select code, name from regions`,
        sums: wholeYear
          ? yearSumSql(q.year, ['channel', 'region_code'])
          : sumSql({ plan, orgId: q.org_id }, ['channel', 'region_code']),
        canteen: sql`select s.org_id, s.total, s.n, o.name from (${canteenSums}) s join orgs o on o.id = s.org_id`,
        budgets: canteenRepository.forYearSql(q.year, q.org_id),
      })
      if (sets.org.length === 0) throw noSuchOrg()
      const targets = yearTargetsOf(targetsRepository.fromJson(sets.targets))
      const regions = regionsOf(sets.regions)
      const sums = toSumRows(sets.sums, ['channel', 'region_code'])
      const canteenByOrg = toSumRows(sets.canteen, ['org_id'])
      const units = canteenUnitsOf({
        budgets: canteenRepository.fromJson(sets.budgets),
        purchased: new Map(canteenByOrg.map((r) => [r.org_id!, r.totalFen])),
        names: new Map(sets.canteen.map((r) => [String(r.org_id), String(r.name)])),
        ratioE4: targets.canteenRatioE4,
      })

      const byChannel = new Map<string, { fen: bigint; count: number }>()
      const marketByRegion = new Map<string, { fen: bigint; count: number }>()
      byChannel.set('canteen', {
        fen: canteenByOrg.reduce((sum, r) => sum + r.totalFen, 0n),
        count: canteenByOrg.reduce((sum, r) => sum + r.count, 0),
      })
      for (const r of sums) {
        if (r.channel === 'canteen') continue
        const c = byChannel.get(r.channel!) ?? { fen: 0n, count: 0 }
        byChannel.set(r.channel!, { fen: c.fen + r.totalFen, count: c.count + r.count })
        if (r.channel === 'market_sales') {
          const m = marketByRegion.get(r.region_code!) ?? { fen: 0n, count: 0 }
          marketByRegion.set(r.region_code!, { fen: m.fen + r.totalFen, count: m.count + r.count })
        }
      }

      const channels: ChannelTotalsOut[] = CHANNELS.map((channel) => {
        const { fen, count } = byChannel.get(channel) ?? { fen: 0n, count: 0 }
        if (channel === 'market_sales') {
          const perRegion = targets.marketPerRegionFen
          return {
            channel,
            ...paceFigures(fen, count, perRegion === null ? null : perRegion * BigInt(regions.length), asOf),
            regions: regions.map((region) => {
              const s = marketByRegion.get(region.code) ?? { fen: 0n, count: 0 }
              return {
                region_code: region.code,
                name: region.name,
                ...paceFigures(s.fen, s.count, perRegion, asOf),
              }
            }),
          }
        }
        if (channel === 'canteen') {
          const ratioE4 = targets.canteenRatioE4
          const declared = units.filter((u) => u.canteenTotalFen !== null)
          const canteenTotal = declared.reduce((sum, u) => sum + u.canteenTotalFen!, 0n)
          const reserved = ratioE4 === null ? null : declared.reduce((sum, u) => sum + u.reservedFen!, 0n)
          return {
            channel,
            ...paceFigures(fen, count, reserved !== null && reserved > 0n ? reserved : null, asOf),
            target_share: ratioE4 === null ? null : formatRatioE4(ratioE4),
            canteen_total: formatMoney(canteenTotal),
            reserved: formatMoneyOrNull(reserved),
            share: ratio(fen, canteenTotal),
            units: declared.length,
            units_met: ratioE4 === null ? null : declared.filter((u) => u.met).length,
            units_without_budget: units.length - declared.length,
          }
        }
        return { channel, ...paceFigures(fen, count, targets.amountFen[channel] ?? null, asOf) }
      })
      const grand = [...byChannel.values()].reduce((sum, c) => sum + c.fen, 0n)
      return {
        year: q.year,
        as_of: asOf,
        computed_at: deps.now().toISOString(),
        channels,
        grand_total: formatMoney(grand),
      }
    },

    async breakdown(q: BreakdownQuery): Promise<BreakdownOut> {
      const { today, asOf, plan } = datesOf(q.year, q.as_of)
      const dim: SumDim = (
        { month: 'month', org: 'org_id', region: 'region_code', channel: 'channel' } as const
      )[q.by]
      // One statement, as for totals: the org check, the sums (with org names) and the regions.
      const sums =
        q.org_id === undefined && (dim === 'region_code' || dim === 'channel') && coversWholeYear(asOf, today)
          ? yearSumSql(q.year, [dim], q.channel)
          : sumSql({ plan, orgId: q.org_id, channel: q.channel }, [dim])
      const sets = await queryRowSets(deps.db, {
        org: orgCheckSql(q.org_id),
        sums:
          q.by === 'org'
            ? sql`select s.*, o.name from (${sums}) s join orgs o on o.id = s.org_id`
            : sql`select * from (${sums}) s`,
        regions: q.by === 'region' ? sql`select code, name from regions` : sql`select 1 where false`,
      })
      if (sets.org.length === 0) throw noSuchOrg()
      const found = new Map(toSumRows(sets.sums, [dim]).map((r) => [String(r[dim]), r]))
      const names = new Map(sets.sums.map((r) => [String(r.org_id), String(r.name)]))
      const row = (key: string, label: string) => {
        const s = found.get(key)
        return { key, label, total: formatMoney(s?.totalFen ?? 0n), count: s?.count ?? 0 }
      }
      let rows: BreakdownOut['rows']
      if (q.by === 'month') {
        // Every month from January to as_of's month, zero or not.
        rows = Array.from({ length: Number(asOf.slice(5, 7)) }, (_, i) => ({
          ...row(String(i + 1), `${q.year}年${i + 1}月`),
          key: `${q.year}-${String(i + 1).padStart(2, '0')}`,
        }))
      } else if (q.by === 'channel') {
        const listed: readonly Channel[] = q.channel ? [q.channel] : CHANNELS
        rows = listed.map((c) => row(c, CHANNEL_LABELS[c]))
      } else if (q.by === 'region') {
        rows = regionsOf(sets.regions).map((r) => row(r.code, r.name))
      } else {
        // Orgs with at least one counted record: largest total first, then by name and id.
        const fen = (id: string) => found.get(id)!.totalFen
        rows = [...found.keys()]
          .sort((a, b) => {
            const d = fen(b) - fen(a)
            if (d !== 0n) return d > 0n ? 1 : -1
            const [na, nb] = [names.get(a) ?? a, names.get(b) ?? b]
            return na < nb ? -1 : na > nb ? 1 : a < b ? -1 : 1
          })
          .map((id) => row(id, names.get(id) ?? id))
      }
      return { year: q.year, by: q.by, as_of: asOf, rows }
    },
  }
}
