/** What the clients send: creates with idempotency keys, re-sends of some, and voucher clashes. */
import { randomInt } from 'node:crypto'
import { CLASH_SHARE, CONCURRENT_RESEND_SHARE, CREATES, RESEND_SHARE } from './config.js'

const CHANNELS = ['wholesale', 'union_welfare', 'enterprise', 'canteen', 'market_sales'] as const
const REGIONS = ['530502', '530521', '530523', '530524', '530623', '530626', '653124'] as const

export interface Op {
  key: string
  kind: 'original' | 'resend' | 'clash'
  voucher: string
  fen: bigint
  bodyJson: string
}

/** What the clients saw for one idempotency key, over every request sent with it. */
export interface KeyResult {
  key: string
  voucher: string
  fen: bigint
  /** Final statuses of the ops sent with this key (original and re-sends). */
  finals: number[]
  ids: Set<string>
  bodiesOk: boolean
}

export function formatFen(fen: bigint): string {
  return `${fen / 100n}.${(fen % 100n).toString().padStart(2, '0')}`
}

/** Mostly everyday amounts, some very large ones (up to the per-record maximum). */
function randomFen(): bigint {
  const r = Math.random()
  if (r < 0.02) return 999_999_999_999n - BigInt(randomInt(0, 1_000_000))
  if (r < 0.1) return BigInt(randomInt(1, 281_474_976_710_655) % 999_999_999_999) + 1n
  return BigInt(randomInt(1, 100_000_000))
}

function randomDate2024(): string {
  const day = new Date(Date.UTC(2024, 0, 1) + randomInt(0, 366) * 86_400_000)
  return day.toISOString().slice(0, 10)
}

function pick<T>(items: readonly T[]): T {
  return items[randomInt(0, items.length)]!
}

export function makeOp(key: string, kind: Op['kind'], voucher: string, orgId: string): Op {
  const fen = randomFen()
  const body = {
    channel: pick(CHANNELS),
    amount: formatFen(fen),
    occurred_on: randomDate2024(),
    org_id: orgId,
    region_code: pick(REGIONS),
    supplier: '保山市某某农业开发有限公司',
    product: `小粒咖啡 ${randomInt(1, 500)} 箱`,
    voucher_no: voucher,
    external_ref: key,
  }
  return { key, kind, voucher, fen, bodyJson: JSON.stringify(body) }
}

type Entry = { at: number; task: Op[] }

/** The originals, each with a re-send for a share of them: at the same moment, or later on its own. */
function originalsAndResends(runId: string, orgId: string, creates: number, entries: Entry[]): Op[] {
  const originals: Op[] = []
  for (let i = 0; i < creates; i++) {
    const op = makeOp(`rel-${runId}-${i}`, 'original', `V${runId}${String(i).padStart(6, '0')}`, orgId)
    originals.push(op)
    const task: Op[] = [op]
    if (Math.random() < RESEND_SHARE) {
      const resend: Op = { ...op, kind: 'resend' }
      if (Math.random() < CONCURRENT_RESEND_SHARE) task.push(resend)
      else entries.push({ at: i + 1 + Math.random() * (creates - i), task: [resend] })
    }
    entries.push({ at: i, task })
  }
  return originals
}

/** The task list: each task is one or more requests fired at the same moment by one client. */
export function buildTasks(runId: string, orgId: string, creates = CREATES): { tasks: Op[][]; ops: number } {
  const entries: Entry[] = []
  const originals = originalsAndResends(runId, orgId, creates, entries)
  const clashes = Math.round(creates * CLASH_SHARE)
  for (let j = 0; j < clashes; j++) {
    const target = randomInt(0, creates)
    const clash = makeOp(`rel-${runId}-c${j}`, 'clash', originals[target]!.voucher, orgId)
    // A third race their original (same moment, other instance); the rest come before or after it.
    if (j % 3 === 0) entries.find((e) => e.at === target)!.task.push(clash)
    else entries.push({ at: Math.random() * creates, task: [clash] })
  }
  entries.sort((a, b) => a.at - b.at)
  const tasks = entries.map((e) => e.task)
  return { tasks, ops: tasks.reduce((n, t) => n + t.length, 0) }
}

/** One empty result per idempotency key in `tasks`. */
export function keyResultsOf(tasks: Op[][]): Map<string, KeyResult> {
  const results = new Map<string, KeyResult>()
  for (const op of tasks.flat()) {
    if (!results.has(op.key)) {
      results.set(op.key, {
        key: op.key,
        voucher: op.voucher,
        fen: op.fen,
        finals: [],
        ids: new Set(),
        bodiesOk: true,
      })
    }
  }
  return results
}
