import type pg from 'pg'
import type { KeyResult } from './workload.js'

export interface Verification {
  acknowledged: number
  acknowledgedFen: bigint
  stored: number
  storedFen: bigint
  rollupFen: bigint
  lost: string[]
  duplicated: string[]
  phantom: string[]
  failures: string[]
}

type Fail = (what: string, examples: unknown[]) => void
type StoredRecord = { id: string; external_ref: string | null; amount_fen: string; status: string }

/** What the clients saw: one answer per key, one id per key, bodies matching; answers the acknowledged keys. */
function clientChecks(keys: KeyResult[], fail: Fail): Map<string, KeyResult> {
  const acked = new Map<string, KeyResult>()
  const inconsistent: string[] = []
  const idMismatch: string[] = []
  const badBody: string[] = []
  for (const k of keys) {
    const settled = k.finals.filter((s) => s !== 0)
    if (settled.some((s) => s !== settled[0])) inconsistent.push(`${k.key}:${settled}`)
    if (settled.includes(201)) acked.set(k.key, k)
    if (k.ids.size > 1) idMismatch.push(`${k.key}:${[...k.ids]}`)
    if (!k.bodiesOk) badBody.push(k.key)
  }
  fail('keys answered differently on different sends', inconsistent)
  fail('keys whose replays returned another id than the original', idMismatch)
  fail('201 bodies not matching the request', badBody)
  const byVoucher = new Map<string, number>()
  for (const k of keys) byVoucher.set(k.voucher, (byVoucher.get(k.voucher) ?? 0) + (acked.has(k.key) ? 1 : 0))
  fail(
    'vouchers acknowledged other than exactly once',
    [...byVoucher].filter(([, n]) => n !== 1).map(([v, n]) => `${v}×${n}`),
  )
  return acked
}

/** Every record traced by its `external_ref` (the idempotency key) to the acknowledgement that made it. */
async function recordChecks(db: pg.Client, acked: Map<string, KeyResult>, fail: Fail) {
  const { rows: records } = await db.query<StoredRecord>(
    'select id::text, external_ref, amount_fen::text, status from purchases',
  )
  const byRef = new Map<string, StoredRecord[]>()
  for (const r of records) {
    const ref = r.external_ref ?? '(none)'
    byRef.set(ref, [...(byRef.get(ref) ?? []), r])
  }
  const wrongRecord: string[] = []
  for (const [key, k] of acked) {
    const r = byRef.get(key)?.[0]
    if (r && (!k.ids.has(r.id) || BigInt(r.amount_fen) !== k.fen || r.status !== 'active'))
      wrongRecord.push(key)
  }
  fail('records differing from their acknowledgement (id, amount or status)', wrongRecord)
  return {
    records,
    byRef,
    lost: [...acked.keys()].filter((key) => !byRef.has(key)),
    duplicated: [...byRef].filter(([, rs]) => rs.length > 1).map(([ref]) => ref),
    phantom: [...byRef.keys()].filter((ref) => !acked.has(ref)),
  }
}

async function sumOf(db: pg.Client, sql: string) {
  const [row] = (await db.query<{ n: string | null; fen: string | null }>(sql)).rows
  return row!
}

/** The stored sum equals the acknowledged one, and both rollups agree with the records. */
async function sumChecks(db: pg.Client, acked: Map<string, KeyResult>, failures: string[]) {
  const acknowledgedFen = [...acked.values()].reduce((s, k) => s + k.fen, 0n)
  const sums = await sumOf(
    db,
    `select count(*)::text as n, sum(amount_fen)::text as fen from purchases where status = 'active'`,
  )
  const rollup = await sumOf(
    db,
    'select sum(count)::text as n, sum(total_fen)::text as fen from purchase_totals',
  )
  // The year rollup must agree too (its canteen part is checked by the test suite's property test).
  const yearRollup = await sumOf(
    db,
    'select sum(count)::text as n, sum(total_fen)::text as fen from purchase_year_totals',
  )
  const stored = Number(sums.n)
  const storedFen = BigInt(sums.fen ?? '0')
  const rollupFen = BigInt(rollup.fen ?? '0')
  if (stored !== acked.size) failures.push(`stored ${stored} records, acknowledged ${acked.size} keys`)
  if (storedFen !== acknowledgedFen)
    failures.push(`stored sum ${storedFen} fen ≠ acknowledged ${acknowledgedFen} fen`)
  if (rollupFen !== storedFen || BigInt(rollup.n ?? '0') !== BigInt(stored))
    failures.push(
      `purchase_totals says ${rollup.n} records / ${rollupFen} fen, purchases ${stored} / ${storedFen}`,
    )
  if (BigInt(yearRollup.fen ?? '0') !== storedFen || BigInt(yearRollup.n ?? '0') !== BigInt(stored))
    failures.push(
      `purchase_year_totals says ${yearRollup.n} records / ${yearRollup.fen ?? 0} fen, purchases ${stored} / ${storedFen}`,
    )
  return { acknowledgedFen, stored, storedFen, rollupFen }
}

/** No voucher on two active records; exactly one purchase.created audit row per record, none for anything else. */
async function voucherAndAuditChecks(db: pg.Client, records: StoredRecord[], fail: Fail) {
  const { rows: voucherDups } = await db.query<{ voucher_no: string }>(
    `select voucher_no from purchases where status = 'active' and voucher_no is not null
      group by voucher_no having count(*) > 1`,
  )
  fail(
    'vouchers on two active records',
    voucherDups.map((r) => r.voucher_no),
  )
  const { rows: audit } = await db.query<{ entity_id: string; n: number }>(
    `select entity_id, count(*)::int as n from audit_log where action = 'purchase.created' group by entity_id`,
  )
  const recordIds = new Set(records.map((r) => r.id))
  const auditCount = new Map(audit.map((a) => [a.entity_id, a.n]))
  fail(
    'records without exactly one purchase.created audit row',
    records.filter((r) => auditCount.get(r.id) !== 1).map((r) => r.id),
  )
  fail(
    'purchase.created audit rows for no record',
    audit.filter((a) => !recordIds.has(a.entity_id)).map((a) => a.entity_id),
  )
}

/** The idempotency records: one per acknowledged key, naming its record; failed requests bind nothing. */
async function idempotencyChecks(
  db: pg.Client,
  acked: Map<string, KeyResult>,
  byRef: Map<string, StoredRecord[]>,
  fail: Fail,
) {
  const { rows: idem } = await db.query<{ key: string; status: number | null; id: string | null }>(
    `select key, response_status as status, response_body->>'id' as id from idempotency_keys`,
  )
  const idemByKey = new Map(idem.map((r) => [r.key, r]))
  fail(
    'idempotency keys without a stored response',
    idem.filter((r) => r.status === null).map((r) => r.key),
  )
  fail(
    'idempotency keys not naming their record',
    [...acked.keys()].filter((key) => {
      const row = idemByKey.get(key)
      return row?.status !== 201 || row.id !== byRef.get(key)?.[0]?.id
    }),
  )
  fail(
    'idempotency keys bound by a request that was not acknowledged',
    idem.filter((r) => !acked.has(r.key)).map((r) => r.key),
  )
}

/**
 * Checks the database against what the clients were told. Every record carries its idempotency key in
 * `external_ref`, so each one is traced to the request that made it.
 */
export async function verifyDatabase(db: pg.Client, keys: KeyResult[]): Promise<Verification> {
  const failures: string[] = []
  const fail: Fail = (what, examples) => {
    if (examples.length)
      failures.push(`${what}: ${examples.length} (e.g. ${examples.slice(0, 3).join(', ')})`)
  }
  const acked = clientChecks(keys, fail)
  const { records, byRef, lost, duplicated, phantom } = await recordChecks(db, acked, fail)
  const sums = await sumChecks(db, acked, failures)
  await voucherAndAuditChecks(db, records, fail)
  await idempotencyChecks(db, acked, byRef, fail)
  return { acknowledged: acked.size, ...sums, lost, duplicated, phantom, failures }
}
