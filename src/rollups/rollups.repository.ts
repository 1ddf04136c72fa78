/**
 * Sums of active purchases from the rollups the database triggers keep (`purchase_totals` by month,
 * `purchase_year_totals` and `canteen_year_totals` by year), so the cost does not grow with the number of
 * records. SUM(bigint) is numeric in PostgreSQL: it comes back as text and becomes a BigInt, never a Number.
 * Groups whose count is zero (everything in them voided) are left out.
 */
import { type SQL, sql } from 'drizzle-orm'
import type { Executor } from '../db/client.js'
import { type Read, readRows } from '../db/read.js'
import type { Channel } from '../schemas.js'
import type { RollupPlan } from './rollup-plan.js'

/** The columns sums can be grouped by (all four are in the rollup's key). */
export type SumDim = 'month' | 'channel' | 'region_code' | 'org_id'

export interface SumFilter {
  plan: RollupPlan
  /** First month counted (default 1): the monthly report's month figures use fromMonth = month. */
  fromMonth?: number
  orgId?: string
  channel?: Channel
}

export interface SumRow {
  month?: number
  channel?: string
  region_code?: string
  org_id?: string
  totalFen: bigint
  count: number
}

/** A sums query's row (columns `dims`, `total` and `n` as text) as a SumRow. */
const sumRowOf =
  (dims: readonly SumDim[]) =>
  (r: Record<string, unknown>): SumRow => {
    const out: SumRow = {
      totalFen: BigInt((r.total as string | null) ?? '0'),
      count: Number((r.n as string | null) ?? '0'),
    }
    if (dims.includes('month')) out.month = Number(r.month)
    if (dims.includes('channel')) out.channel = String(r.channel)
    if (dims.includes('region_code')) out.region_code = String(r.region_code)
    if (dims.includes('org_id')) out.org_id = String(r.org_id)
    return out
  }

const dimList = (dims: readonly SumDim[]) =>
  sql.join(
    dims.map((d) => sql.identifier(d)),
    sql`, `,
  )

/** The period's rows `filter` narrows to: whole months from the rollup, a partial one from the records. */
function periodSources(filter: SumFilter): SQL[] {
  const { plan, orgId, channel } = filter
  const fromMonth = filter.fromMonth ?? 1
  const narrow = (parts: SQL[]) => {
    if (orgId !== undefined) parts.push(sql`org_id = ${orgId}`)
    if (channel !== undefined) parts.push(sql`channel = ${channel}`)
    return sql.join(parts, sql` and `)
  }
  const sources: SQL[] = [
    sql`select month, channel, region_code, org_id, total_fen, count from purchase_totals where ${narrow([
      sql`year = ${plan.year}`,
      sql`month between ${fromMonth} and ${plan.fullThroughMonth}`,
    ])}`,
  ]
  if (plan.partial && plan.partial.month >= fromMonth) {
    sources.push(
      sql`select extract(month from occurred_on)::smallint, channel, region_code, org_id, amount_fen, 1
            from purchases where ${narrow([
              sql`status = 'active'`,
              sql`year = ${plan.year}`,
              sql`occurred_on between ${plan.partial.from}::date and ${plan.partial.to}::date`,
            ])}`,
    )
  }
  return sources
}

/** Sums of the plan's period (see RollupPlan) grouped by `dims`, from the monthly rollup. */
export function sums(filter: SumFilter, dims: readonly SumDim[]): Read<SumRow> {
  const select = dims.length > 0 ? sql`${dimList(dims)}, ` : sql``
  const group = dims.length > 0 ? sql`group by ${dimList(dims)} having sum(count) <> 0` : sql``
  return {
    sql: sql`select ${select}sum(total_fen)::text as total, sum(count)::text as n
               from (${sql.join(periodSources(filter), sql` union all `)}) s ${group}`,
    row: sumRowOf(dims),
  }
}

/** Runs `sums`. */
export function sumBy(ex: Executor, filter: SumFilter, dims: readonly SumDim[]): Promise<SumRow[]> {
  return readRows(ex, sums(filter, dims))
}

/**
 * `sums` for a whole year (see `coversWholeYear`) from `purchase_year_totals`, which has no org and no
 * month: a few hundred rows at most, however many records and orgs there are.
 */
export function yearSums(
  year: number,
  dims: readonly ('channel' | 'region_code')[],
  channel?: Channel,
): Read<SumRow> {
  return {
    sql: sql`select ${dimList(dims)}, sum(total_fen)::text as total, sum(count)::text as n from purchase_year_totals
              where year = ${year} ${channel === undefined ? sql`` : sql`and channel = ${channel}`}
              group by ${dimList(dims)} having sum(count) <> 0`,
    row: sumRowOf(dims),
  }
}

/** Canteen sums per org for a whole year from `canteen_year_totals`. */
export function canteenYearSums(year: number): Read<SumRow> {
  return {
    sql: sql`select org_id, sum(total_fen)::text as total, sum(count)::text as n from canteen_year_totals
              where year = ${year} group by org_id having sum(count) <> 0`,
    row: sumRowOf(['org_id']),
  }
}

/** Per-org sums with each org's name (for the orgs that have sums, in one query). */
export function withOrgNames(read: Read<SumRow>): Read<SumRow & { orgName: string }> {
  return {
    sql: sql`select s.*, o.name from (${read.sql}) s join orgs o on o.id = s.org_id`,
    row: (r) => ({ ...read.row(r), orgName: String(r.name) }),
  }
}
