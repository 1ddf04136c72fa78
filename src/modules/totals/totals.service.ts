import type { Principal } from '../../auth/principal.js'
import { assertMayNameOrg, ownOrgScope } from '../../auth/visibility.js'
import { shanghaiToday } from '../../dates.js'
import type { Db } from '../../db/client.js'
import { readRowSets } from '../../db/read.js'
import { validationFailed } from '../../errors.js'
import { formatMoney, formatMoneyOrNull, formatRatioE4, ratio } from '../../money.js'
import { coversWholeYear, type RollupPlan, rollupPlan } from '../../rollups/rollup-plan.js'
import {
  canteenYearSums,
  type SumDim,
  type SumRow,
  sums,
  withOrgNames,
  yearSums,
} from '../../rollups/rollups.repository.js'
import { type Sum, sumsByKey, totalOf, ZERO_SUM } from '../../rollups/sums.js'
import { CHANNEL_LABELS, CHANNELS, type Channel } from '../../schemas.js'
import { budgetsOfYear, type CanteenUnit, canteenUnitsOf } from '../canteen/index.js'
import { targetsOfYear, type YearTargets, yearTargetsOf } from '../targets/index.js'
import { pace, progress, remaining, resolveAsOf } from './totals.domain.js'
import { noRegionNames, orgCheck, type RegionName, regionNames } from './totals.repository.js'
import type {
  BreakdownOut,
  BreakdownQuery,
  ChannelTotalsOut,
  TotalsOut,
  TotalsQuery,
} from './totals.schemas.js'

/** total, count, target, progress, remaining and pace of one channel or county, formatted for the API. */
function paceFigures(totalFen: bigint, count: number, targetFen: bigint | null, asOf: string) {
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

const byCode = (a: RegionName, b: RegionName) => (a.code < b.code ? -1 : 1)

const noSuchOrg = () =>
  validationFailed([{ path: '/querystring/org_id', message: 'no organization has this id' }])

/**
 * Every read of a totals response, for one statement: one round trip and one snapshot. Each figure and
 * its breakdown come from one query: the canteen channel's total and count are the sum of the per-org
 * rows its units list, market sales' of its per-region rows. A year to date for the whole district reads
 * the year rollups (a few hundred rows); an org's totals, or a cut-off inside the year, the monthly one.
 */
function totalsReads(q: TotalsQuery, plan: RollupPlan, wholeYear: boolean) {
  return {
    org: orgCheck(q.org_id),
    targets: targetsOfYear(q.year),
    regions: regionNames(),
    sums: wholeYear
      ? yearSums(q.year, ['channel', 'region_code'])
      : sums({ plan, orgId: q.org_id }, ['channel', 'region_code']),
    canteen: withOrgNames(
      wholeYear ? canteenYearSums(q.year) : sums({ plan, orgId: q.org_id, channel: 'canteen' }, ['org_id']),
    ),
    budgets: budgetsOfYear(q.year, q.org_id),
  }
}

/** What every channel's figures are made from. */
interface TotalsInput {
  asOf: string
  targets: YearTargets
  regions: RegionName[]
  units: CanteenUnit[]
  byChannel: Map<string, Sum>
  marketByRegion: Map<string, Sum>
}

function marketTotals(s: Sum, input: TotalsInput): ChannelTotalsOut {
  const { asOf, regions } = input
  const perRegion = input.targets.marketPerRegionFen
  return {
    channel: 'market_sales',
    ...paceFigures(s.fen, s.count, perRegion === null ? null : perRegion * BigInt(regions.length), asOf),
    regions: regions.map((region) => {
      const r = input.marketByRegion.get(region.code) ?? ZERO_SUM
      return { region_code: region.code, name: region.name, ...paceFigures(r.fen, r.count, perRegion, asOf) }
    }),
  }
}

/** The canteen channel: its target is the sum of the declared units' reserved amounts. */
function canteenTotals(s: Sum, input: TotalsInput): ChannelTotalsOut {
  const { units } = input
  const ratioE4 = input.targets.canteenRatioE4
  const declared = units.filter((u) => u.canteenTotalFen !== null)
  const canteenTotal = declared.reduce((sum, u) => sum + u.canteenTotalFen!, 0n)
  const reserved = ratioE4 === null ? null : declared.reduce((sum, u) => sum + u.reservedFen!, 0n)
  return {
    channel: 'canteen',
    ...paceFigures(s.fen, s.count, reserved !== null && reserved > 0n ? reserved : null, input.asOf),
    target_share: ratioE4 === null ? null : formatRatioE4(ratioE4),
    canteen_total: formatMoney(canteenTotal),
    reserved: formatMoneyOrNull(reserved),
    share: ratio(s.fen, canteenTotal),
    units: declared.length,
    units_met: ratioE4 === null ? null : declared.filter((u) => u.met).length,
    units_without_budget: units.length - declared.length,
  }
}

function channelTotals(channel: Channel, input: TotalsInput): ChannelTotalsOut {
  const s = input.byChannel.get(channel) ?? ZERO_SUM
  if (channel === 'market_sales') return marketTotals(s, input)
  if (channel === 'canteen') return canteenTotals(s, input)
  return { channel, ...paceFigures(s.fen, s.count, input.targets.amountFen[channel] ?? null, input.asOf) }
}

/** The canteen channel from its per-org rows, the others (and market sales per region) from the sums. */
function channelSums(rows: SumRow[], canteenByOrg: SumRow[]) {
  const others = sumsByKey(
    rows.filter((r) => r.channel !== 'canteen'),
    (r) => r.channel!,
  )
  const byChannel = new Map([['canteen', totalOf(canteenByOrg)], ...others])
  const market = rows.filter((r) => r.channel === 'market_sales')
  return { byChannel, marketByRegion: sumsByKey(market, (r) => r.region_code!) }
}

const BREAKDOWN_DIMS = { month: 'month', org: 'org_id', region: 'region_code', channel: 'channel' } as const

/**
 * Every read of a breakdown, for one statement as for totals: the org check, the sums (with org names for
 * `by=org`) and the regions (for `by=region`).
 */
function breakdownReads(q: BreakdownQuery, dim: SumDim, plan: RollupPlan, wholeYear: boolean) {
  const counted =
    q.org_id === undefined && (dim === 'region_code' || dim === 'channel') && wholeYear
      ? yearSums(q.year, [dim], q.channel)
      : sums({ plan, orgId: q.org_id, channel: q.channel }, [dim])
  return {
    org: orgCheck(q.org_id),
    sums: q.by === 'org' ? withOrgNames(counted) : counted,
    regions: q.by === 'region' ? regionNames() : noRegionNames(),
  }
}

type BreakdownRow = BreakdownOut['rows'][number]
/** A sums row, with the org's name when the breakdown is by org. */
type CountedRow = SumRow & { orgName?: string }

/** Orgs with at least one counted record: largest total first, then by name and id. */
function orgRows(found: Map<string, CountedRow>, row: (key: string, label: string) => BreakdownRow) {
  const fen = (id: string) => found.get(id)!.totalFen
  const name = (id: string) => found.get(id)?.orgName ?? id
  return [...found.keys()]
    .sort((a, b) => {
      const d = fen(b) - fen(a)
      if (d !== 0n) return d > 0n ? 1 : -1
      const [na, nb] = [name(a), name(b)]
      return na < nb ? -1 : na > nb ? 1 : a < b ? -1 : 1
    })
    .map((id) => row(id, name(id)))
}

/** The breakdown's rows: every month to as_of's, every (filtered) channel, every county, or the buying orgs. */
function breakdownRows(
  q: BreakdownQuery,
  asOf: string,
  found: Map<string, CountedRow>,
  regions: RegionName[],
): BreakdownRow[] {
  const row = (key: string, label: string) => {
    const s = found.get(key)
    return { key, label, total: formatMoney(s?.totalFen ?? 0n), count: s?.count ?? 0 }
  }
  if (q.by === 'month') {
    return Array.from({ length: Number(asOf.slice(5, 7)) }, (_, i) => ({
      ...row(String(i + 1), `${q.year}年${i + 1}月`),
      key: `${q.year}-${String(i + 1).padStart(2, '0')}`,
    }))
  }
  if (q.by === 'channel') {
    const listed: readonly Channel[] = q.channel ? [q.channel] : CHANNELS
    return listed.map((c) => row(c, CHANNEL_LABELS[c]))
  }
  if (q.by === 'region') return [...regions].sort(byCode).map((r) => row(r.code, r.name))
  return orgRows(found, row)
}

/**
 * Today, the request's as_of (given, or its default) and the rollup plan, from one reading of the clock:
 * the as_of default, the plan and the year-rollup choice all judge the same day.
 */
function datesOf(now: Date, year: number, asOfGiven: string | undefined) {
  const today = shanghaiToday(now)
  const asOf = resolveAsOf(year, asOfGiven, today)
  if (typeof asOf !== 'string') {
    throw validationFailed([
      { path: asOfGiven === undefined ? '/querystring/year' : '/querystring/as_of', message: asOf.error },
    ])
  }
  return { today, asOf, plan: rollupPlan(asOf, today) }
}

/** The org a breakdown is narrowed to: `by=org` lists orgs, so a reporter's is held to its own org. */
function breakdownOrg(principal: Principal, q: BreakdownQuery): string | undefined {
  if (q.by === 'org') return ownOrgScope(principal, q.org_id, 'figures')
  assertMayNameOrg(principal, q.org_id, 'figures')
  return q.org_id
}

export function createTotalsService(deps: { db: Db; now: () => Date }) {
  return {
    /** District-wide for every role; one org's figures for admin, finance and that org's reporters. */
    async totals(principal: Principal, q: TotalsQuery): Promise<TotalsOut> {
      assertMayNameOrg(principal, q.org_id, 'totals')
      const { today, asOf, plan } = datesOf(deps.now(), q.year, q.as_of)
      const wholeYear = q.org_id === undefined && coversWholeYear(asOf, today)
      const sets = await readRowSets(deps.db, totalsReads(q, plan, wholeYear))
      if (sets.org.length === 0) throw noSuchOrg()
      const targets = yearTargetsOf(sets.targets)
      const units = canteenUnitsOf({
        budgets: sets.budgets,
        purchased: new Map(sets.canteen.map((r) => [r.org_id!, r.totalFen])),
        names: new Map(sets.canteen.map((r) => [r.org_id!, r.orgName])),
        ratioE4: targets.canteenRatioE4,
      })
      const { byChannel, marketByRegion } = channelSums(sets.sums, sets.canteen)
      const input = {
        asOf,
        targets,
        regions: [...sets.regions].sort(byCode),
        units,
        byChannel,
        marketByRegion,
      }
      return {
        year: q.year,
        as_of: asOf,
        computed_at: deps.now().toISOString(),
        channels: CHANNELS.map((channel) => channelTotals(channel, input)),
        grand_total: formatMoney([...byChannel.values()].reduce((sum, c) => sum + c.fen, 0n)),
      }
    },

    /** As totals; `by=org` is a per-org list, so a reporter's is held to its own org. */
    async breakdown(principal: Principal, query: BreakdownQuery): Promise<BreakdownOut> {
      const q = { ...query, org_id: breakdownOrg(principal, query) }
      const { today, asOf, plan } = datesOf(deps.now(), q.year, q.as_of)
      const dim = BREAKDOWN_DIMS[q.by]
      const sets = await readRowSets(deps.db, breakdownReads(q, dim, plan, coversWholeYear(asOf, today)))
      if (sets.org.length === 0) throw noSuchOrg()
      const found = new Map(sets.sums.map((r) => [String(r[dim]), r as CountedRow]))
      return { year: q.year, by: q.by, as_of: asOf, rows: breakdownRows(q, asOf, found, sets.regions) }
    },
  }
}
