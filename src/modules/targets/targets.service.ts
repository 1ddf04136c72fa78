import { type Db, type Executor, inTransaction } from '../../db/client.js'
import { readRows } from '../../db/read.js'
import { formatMoney, formatRatioE4, parseMoney, parseRatioE4 } from '../../money.js'
import { CHANNELS, type Channel } from '../../schemas.js'
import { appendAudit } from '../audit/index.js'
import { targetsRepository as repo, type TargetRow, targetsOfYear } from './targets.repository.js'
import type { PutTargetsBody, TargetOut, YearTargetsOut } from './targets.schemas.js'

const channelOrder = (c: string) => CHANNELS.indexOf(c as Channel)

function toTargetOut(row: TargetRow): TargetOut {
  return {
    channel: row.channel as Channel,
    kind: row.kind as TargetOut['kind'],
    value: row.kind === 'amount' ? formatMoney(row.amountFen!) : formatRatioE4(row.ratioE4!),
    scope: row.scope as TargetOut['scope'],
  }
}

function toYearTargets(year: number, rows: TargetRow[]): YearTargetsOut {
  const sorted = [...rows].sort((a, b) => channelOrder(a.channel) - channelOrder(b.channel))
  return { year, targets: sorted.map(toTargetOut) }
}

/** A year's targets as the totals need them: fen per amount channel, the canteen ratio in ten-thousandths. */
export interface YearTargets {
  /** District amount targets (wholesale, union_welfare, enterprise), fen. */
  amountFen: Partial<Record<Channel, bigint>>
  /** Market sales target for each counterpart county, fen. */
  marketPerRegionFen: bigint | null
  /** The canteen share, ten-thousandths (0.10 = 1000). */
  canteenRatioE4: number | null
}

export async function loadYearTargets(ex: Executor, year: number): Promise<YearTargets> {
  return yearTargetsOf(await readRows(ex, targetsOfYear(year)))
}

/** YearTargets from a year's target rows (`targetsOfYear`, read alone or batched). */
export function yearTargetsOf(rows: Pick<TargetRow, 'channel' | 'amountFen' | 'ratioE4'>[]): YearTargets {
  const out: YearTargets = { amountFen: {}, marketPerRegionFen: null, canteenRatioE4: null }
  for (const row of rows) {
    if (row.channel === 'canteen') out.canteenRatioE4 = row.ratioE4
    else if (row.channel === 'market_sales') out.marketPerRegionFen = row.amountFen
    else out.amountFen[row.channel as Channel] = row.amountFen!
  }
  return out
}

export function createTargetsService(deps: { db: Db }) {
  return {
    async get(year: number): Promise<YearTargetsOut> {
      return toYearTargets(year, await readRows(deps.db, targetsOfYear(year)))
    },

    /** Replaces the year's targets and records before/after in the audit log, in one transaction. */
    async replace(actorKeyId: string, year: number, input: PutTargetsBody): Promise<YearTargetsOut> {
      return inTransaction(deps.db, async (tx) => {
        await repo.lockYear(tx, year)
        const before = toYearTargets(year, await readRows(tx, targetsOfYear(year)))
        await repo.replace(
          tx,
          year,
          input.targets.map((t) => ({
            channel: t.channel,
            kind: t.kind,
            scope: t.scope,
            amountFen: t.kind === 'amount' ? parseMoney(t.value) : null,
            ratioE4: t.kind === 'share' ? parseRatioE4(t.value) : null,
          })),
        )
        const after = toYearTargets(year, await readRows(tx, targetsOfYear(year)))
        await appendAudit(tx, {
          actorKeyId,
          action: 'targets.replaced',
          entity: 'targets',
          entityId: String(year),
          before,
          after,
        })
        return after
      })
    },
  }
}
