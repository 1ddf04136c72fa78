/**
 * Purchases use cases other than the single-record write (see purchases.writer.ts): the all-or-nothing
 * batch, the domain problems of a request that failed its schema, get, void and list. Each owns its
 * transaction; the rules themselves are in purchases.domain.ts.
 */

import type { Principal } from '../../auth/principal.js'
import { seesOrg } from '../../auth/visibility.js'
import { decodeCursor, encodeCursor } from '../../cursor.js'
import { isCalendarDate, shanghaiToday } from '../../dates.js'
import type { Db, Executor } from '../../db/client.js'
import { isUniqueViolation } from '../../db/errors.js'
import { conflict, type FieldError, notFound, validationFailed } from '../../errors.js'
import {
  type IdempotentOutcome,
  type IdempotentRequest,
  runIdempotent,
} from '../../idempotency/idempotency.js'
import { formatMoney } from '../../money.js'
import { appendAudit } from '../audit/index.js'
import {
  assertNoVoucherClash,
  assertOwnOrg,
  type DomainContext,
  isUuid,
  type PathOf,
  recordProblems,
  scopeFilters,
  toNewPurchase,
  voucherKeysOf,
  voucherRace,
} from './purchases.domain.js'
import { purchasesRepository as repo } from './purchases.repository.js'
import type { CreatePurchaseInput, ListPurchasesQuery, PurchaseOut } from './purchases.schemas.js'

export type DryRunBody = { valid: true; count: number; amount: string }
export type BatchBody = { items: PurchaseOut[] } | DryRunBody

const batchPath: PathOf = (i) => `/items/${i}`

export function createPurchasesService(deps: { db: Db; now: () => Date }) {
  /** What the domain checks of a request need: today, the registered regions and the orgs it names. */
  async function domainContext(ex: Executor, principal: Principal, orgIds: string[]): Promise<DomainContext> {
    return {
      principal,
      today: shanghaiToday(deps.now()),
      regions: await repo.regionCodes(ex),
      orgs: await repo.existingOrgIds(ex, [...new Set(orgIds)]),
    }
  }

  /** Domain and voucher checks of a well-formed batch: 403, 400 listing every problem, or 409. */
  async function checkBatch(ex: Executor, principal: Principal, items: CreatePurchaseInput[]) {
    assertOwnOrg(principal, items)
    const orgIds = items.flatMap((i) => (i.org_id ? [i.org_id] : []))
    const c = await domainContext(ex, principal, orgIds)
    const errors = items.flatMap((item, i) => recordProblems(c, item, (field) => `${batchPath(i)}/${field}`))
    if (errors.length > 0) throw validationFailed(errors, `${errors.length} problem(s) in the request.`)
    const rows = items.map((item) => toNewPurchase(principal, item))
    const stored = await repo.activeByVoucherKeys(ex, voucherKeysOf(rows))
    assertNoVoucherClash(rows, new Map(stored.map((s) => [s.voucherKey, s.id])), batchPath)
    return rows
  }

  /**
   * Records all-or-nothing in one transaction with the idempotency record; a dry run checks and stores
   * nothing. Vouchers are checked first for a helpful 409; the partial unique index decides races.
   */
  async function createBatch(
    idem: IdempotentRequest,
    principal: Principal,
    items: CreatePurchaseInput[],
    dryRun: boolean,
  ): Promise<IdempotentOutcome<BatchBody>> {
    try {
      return await runIdempotent<BatchBody>(deps.db, idem, async (tx) => {
        const rows = await checkBatch(tx, principal, items)
        if (dryRun) {
          const amount = formatMoney(rows.reduce((sum, r) => sum + r.amountFen, 0n))
          return { status: 200, body: { valid: true, count: rows.length, amount } }
        }
        return { status: 201, body: { items: await repo.insertMany(tx, principal.keyId, rows) } }
      })
    } catch (err) {
      // The voucher index refused the insert: another request took a voucher between our check and our
      // insert. The transaction is rolled back; report it like the pre-check would.
      if (!isUniqueViolation(err, 'purchase_voucher')) throw err
      await checkBatch(deps.db, principal, items)
      throw voucherRace()
    }
  }

  /**
   * The domain problems (unknown region or org, future date…) of a request that already failed schema
   * validation, judged on its well-formed fields only, so one 400 lists every problem. A reporter naming
   * another org is still a 403, as it is for a well-formed request.
   */
  async function problemsOfInvalid(
    principal: Principal,
    rawItems: unknown[],
    pathOf: PathOf,
  ): Promise<FieldError[]> {
    const items = rawItems.map((i) =>
      i !== null && typeof i === 'object' && !Array.isArray(i) ? (i as Record<string, unknown>) : undefined,
    )
    const orgIds = items.flatMap((i) => (isUuid(i?.org_id) ? [i.org_id] : []))
    assertOwnOrg(
      principal,
      orgIds.map((org_id) => ({ org_id })),
    )
    const c = await domainContext(deps.db, principal, orgIds)
    return items.flatMap((item, index) =>
      item ? recordProblems(c, item, (field) => `${pathOf(index)}/${field}`) : [],
    )
  }

  async function get(principal: Principal, id: string): Promise<PurchaseOut> {
    const record = await repo.findById(deps.db, id)
    // A reporter gets the same 404 for another org's record as for a missing one: no existence leak.
    if (!record || !seesOrg(principal, record.org_id)) throw notFound('Purchase')
    return record
  }

  /** Voids an active record with its audit row; the rollup trigger stops counting it. */
  async function voidPurchase(idem: IdempotentRequest, principal: Principal, id: string, reason: string) {
    return runIdempotent<PurchaseOut>(deps.db, idem, async (tx) => {
      const record = await repo.findById(tx, id)
      // Another org's record is a 404 here too, as on GET: a void must not reveal that it exists.
      if (!record || !seesOrg(principal, record.org_id)) throw notFound('Purchase')
      const changed = await repo.voidActive(tx, id, reason, principal.keyId)
      if (!changed) throw conflict(`Purchase ${id} is already voided.`)
      await appendAudit(tx, {
        actorKeyId: principal.keyId,
        action: 'purchase.voided',
        entity: 'purchase',
        entityId: id,
        before: changed.before,
        after: changed.after,
      })
      return { status: 200, body: changed.after }
    })
  }

  /** One keyset page; the cursor is bound to the filters it was made under. */
  async function list(principal: Principal, query: ListPurchasesQuery) {
    const { limit, cursor, ...filters } = scopeFilters(principal, query)
    // A cursor's position is client input: a real date and a UUID, or a 400 before it reaches SQL.
    const after = cursor
      ? decodeCursor(
          cursor,
          filters,
          2,
          ([date, id]) => typeof date === 'string' && isCalendarDate(date) && isUuid(id),
        )
      : undefined
    const position = after ? { occurredOn: String(after[0]), id: String(after[1]) } : undefined
    const rows = await repo.list(deps.db, filters, position, limit + 1)
    const items = rows.slice(0, limit)
    const last = items[items.length - 1]
    const more = rows.length > limit && last
    return { items, next_cursor: more ? encodeCursor([last.occurred_on, last.id], filters) : null }
  }

  return { createBatch, problemsOfInvalid, get, void: voidPurchase, list }
}
