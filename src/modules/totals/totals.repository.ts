import { inArray, type SQL, sql } from 'drizzle-orm'
import { type Executor, queryRows } from '../../db/client.js'
import { orgs } from '../../db/schema.js'
import type { Channel } from '../../schemas.js'
import type { RollupPlan } from './totals.domain.js'

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

/**
 * Sums of active purchases grouped by `dims`, read from the `purchase_totals` rollup for whole months
 * and from `purchases` only for the partial month of the plan, so the cost does not grow with the number of
 * records. SUM(bigint) is numeric in PostgreSQL: it comes back as text and becomes a BigInt, never a Number.
 * Groups whose count is zero (everything in them voided) are left out.
 */
export async function sumBy(ex: Executor, filter: SumFilter, dims: readonly SumDim[]): Promise<SumRow[]> {
  return toSumRows(await queryRows<Record<string, unknown>>(ex, sumSql(filter, dims)), dims)
}

/**
 * The query behind `sumBy`, for callers that batch it with other reads (`queryRowSets`): columns `dims`,
 * `total` (fen, text) and `n` (count, text).
 */
export function sumSql(filter: SumFilter, dims: readonly SumDim[]): SQL {
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
  const dimList = sql.join(
    dims.map((d) => sql.identifier(d)),
    sql`, `,
  )
  const select = dims.length > 0 ? sql`${dimList}, ` : sql``
  const group = dims.length > 0 ? sql`group by ${dimList} having sum(count) <> 0` : sql``
  return sql`select ${select}sum(total_fen)::text as total, sum(count)::text as n
               from (${sql.join(sources, sql` union all `)}) s ${group}`
}

/**
 * `sumSql` for a whole year (see `coversWholeYear`) from `purchase_year_totals`, which has no org and no month:
 * a few hundred rows at most, however many records and orgs there are. Same columns as `sumSql`.
 */
export function yearSumSql(
  year: number,
  dims: readonly ('channel' | 'region_code')[],
  channel?: Channel,
): SQL {
  const dimList = sql.join(
    dims.map((d) => sql.identifier(d)),
    sql`, `,
  )
  return sql`select ${dimList}, sum(total_fen)::text as total, sum(count)::text as n from purchase_year_totals
              where year = ${year} ${channel === undefined ? sql`` : sql`and channel = ${channel}`}
              group by ${dimList} having sum(count) <> 0`
}

/** Canteen sums per org for a whole year from `canteen_year_totals`; columns `org_id`, `total`, `n`. */
export function canteenYearSumSql(year: number): SQL {
  return sql`select org_id, sum(total_fen)::text as total, sum(count)::text as n from canteen_year_totals
              where year = ${year} group by org_id having sum(count) <> 0`
}

/** `sumSql`'s rows as SumRows (from `queryRows`, or from `queryRowSets`' JSON: the same values). */
export function toSumRows(rows: Record<string, unknown>[], dims: readonly SumDim[]): SumRow[] {
  return rows.map((r) => {
    const out: SumRow = {
      totalFen: BigInt((r.total as string | null) ?? '0'),
      count: Number((r.n as string | null) ?? '0'),
    }
    if (dims.includes('month')) out.month = Number(r.month)
    if (dims.includes('channel')) out.channel = String(r.channel)
    if (dims.includes('region_code')) out.region_code = String(r.region_code)
    if (dims.includes('org_id')) out.org_id = String(r.org_id)
    return out
  })
}

/** Names of the given orgs, by id. */
export async function orgNames(ex: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map()
  const rows = await ex
    .select({ id: orgs.id, name: orgs.name })
    .from(orgs)
    .where(inArray(orgs.id, [...ids]))
  return new Map(rows.map((r) => [r.id, r.name]))
}
