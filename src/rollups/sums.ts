/** Adding up rollup rows: pure, on `SumRow`s from `rollups.repository.ts`. */
import type { SumRow } from './rollups.repository.js'

/** An amount in fen and the number of records in it. */
export interface Sum {
  fen: bigint
  count: number
}

export const ZERO_SUM: Sum = { fen: 0n, count: 0 }

/** The rows added up into one Sum. */
export function totalOf(rows: readonly SumRow[]): Sum {
  return rows.reduce((s, r) => ({ fen: s.fen + r.totalFen, count: s.count + r.count }), ZERO_SUM)
}

/** The rows added up per key (a channel, a region …), in the order the keys first appear. */
export function sumsByKey(rows: readonly SumRow[], key: (row: SumRow) => string): Map<string, Sum> {
  const out = new Map<string, Sum>()
  for (const r of rows) {
    const k = key(r)
    const s = out.get(k) ?? ZERO_SUM
    out.set(k, { fen: s.fen + r.totalFen, count: s.count + r.count })
  }
  return out
}
