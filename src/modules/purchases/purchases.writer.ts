/**
 * The single-record writer (POST /v1/purchases): group commit. While `database.batchSlots` statements are
 * in progress, new requests queue and go together in the next (up to WRITE_BATCH): one statement and one
 * commit for all of them, with the same checks and answers as one at a time. Two round trips per request
 * (authentication and this), fewer under load. The only closure with state in the purchases module.
 */

import type { Principal } from '../../auth/principal.js'
import { createBatcher, type Settled, settle } from '../../batcher.js'
import { shanghaiToday } from '../../dates.js'
import type { Database } from '../../db/client.js'
import { isUniqueViolation } from '../../db/errors.js'
import { validationFailed } from '../../errors.js'
import {
  type IdempotentOutcome,
  type IdempotentRequest,
  idempotencyKeyReused,
} from '../../idempotency/idempotency.js'
import {
  assertOwnOrg,
  distinctGroups,
  recordProblems,
  toNewPurchase,
  voucherClash,
  voucherTakenMessage,
} from './purchases.domain.js'
import {
  type CheckedInsert,
  type CheckedInsertOutcome,
  purchasesRepository as repo,
} from './purchases.repository.js'
import type { CreatePurchaseInput, PurchaseOut } from './purchases.schemas.js'

/**
 * Requests per shared statement. Measured (`npm run bench:write-cost`): PostgreSQL records several times
 * more purchases per second ten to a statement than one, since each statement carries its plan, trigger
 * and commit once.
 */
const WRITE_BATCH = 64
/** A concurrent request won the key or the voucher: once it has committed, a retry sees it. */
const MAX_ATTEMPTS = 3

const at = (field: string) => `/${field}`

export function createPurchaseWriter(deps: { database: Database; now: () => Date }) {
  const { db } = deps.database

  /**
   * Runs queued requests in groups whose members share no voucher key and no idempotency key (see
   * `distinctGroups`), each group one statement. If a group's statement fails — a concurrent statement
   * took one request's voucher or key — nothing of it was stored, and each of its requests runs alone, so
   * the error reaches only its own.
   */
  async function runGroups(requests: CheckedInsert[]): Promise<Settled<CheckedInsertOutcome>[]> {
    const results: Settled<CheckedInsertOutcome>[] = []
    const marks = requests.map((r) => ({ ...r, voucherKey: r.row.voucherKey }))
    for (const group of distinctGroups(marks)) {
      const outcomes = await runGroup(group.map((i) => requests[i]!))
      group.forEach((i, j) => {
        results[i] = outcomes[j]!
      })
    }
    return results
  }

  async function runGroup(group: CheckedInsert[]): Promise<Settled<CheckedInsertOutcome>[]> {
    const alone = (r: CheckedInsert) => settle(async () => (await repo.insertCheckedMany(db, [r]))[0]!)
    if (group.length === 1) return [await alone(group[0]!)]
    try {
      const rows = await repo.insertCheckedMany(db, group)
      return rows.map((value) => ({ ok: true, value }))
    } catch {
      return Promise.all(group.map(alone))
    }
  }

  const insertChecked = createBatcher(runGroups, {
    maxBatch: WRITE_BATCH,
    maxInFlight: deps.database.batchSlots,
  })

  /** The shared statement, retried when a concurrent request won this one's key or voucher. */
  async function insertWithRetry(request: CheckedInsert): Promise<CheckedInsertOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await insertChecked(request)
      } catch (err) {
        const raced = isUniqueViolation(err, 'idempotency_key', 'purchase_voucher')
        if (!raced || attempt >= MAX_ATTEMPTS) throw err
      }
    }
  }

  /** Records one purchase: the same checks and answers as the batch path, in one shared statement. */
  async function create(
    idem: IdempotentRequest,
    principal: Principal,
    item: CreatePurchaseInput,
  ): Promise<IdempotentOutcome<PurchaseOut>> {
    assertOwnOrg(principal, [item])
    const row = toNewPurchase(principal, item)
    const orgId = row.orgId || null
    const today = shanghaiToday(deps.now())
    // Date and missing-org problems need no database; the statement then only reports region and org.
    const offline = recordProblems(
      { principal, today, regions: new Set([row.regionCode]), orgs: new Set(orgId ? [orgId] : []) },
      item,
      at,
    )
    const out = await insertWithRetry({
      actorKeyId: principal.keyId,
      row,
      orgId,
      proceed: offline.length === 0,
      idempotencyKey: idem.key ?? null,
      fingerprint: idem.fingerprint,
    })
    if (out.priorStatus !== null) {
      if (out.priorFingerprint !== idem.fingerprint) throw idempotencyKeyReused()
      return { status: out.priorStatus, body: out.priorBody as PurchaseOut, replayed: true }
    }
    const found = {
      regions: new Set(out.regionOk ? [row.regionCode] : []),
      orgs: new Set(out.orgOk && orgId ? [orgId] : []),
    }
    const problems = recordProblems({ principal, today, ...found }, item, at)
    if (problems.length > 0) throw validationFailed(problems, `${problems.length} problem(s) in the request.`)
    if (out.clashId) {
      const message = voucherTakenMessage(row.voucherNo!, out.clashId)
      throw voucherClash([{ path: at('voucher_no'), message }], out.clashId)
    }
    return { status: 201, body: out.created!, replayed: false }
  }

  return { create }
}
