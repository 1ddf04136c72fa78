import type { Principal } from '../../auth/principal.js'
import { createBatcher, type Settled, settle } from '../../batcher.js'
import { decodeCursor, encodeCursor } from '../../cursor.js'
import { isCalendarDate, shanghaiToday } from '../../dates.js'
import { type Database, type Db, type Executor, pgConstraint, pgErrorCode } from '../../db/client.js'
import { AppError, type FieldError, forbidden, notFound, validationFailed } from '../../errors.js'
import {
  type IdempotentOutcome,
  type IdempotentRequest,
  idempotencyKeyReused,
  runIdempotent,
} from '../../idempotency/idempotency.js'
import { formatMoney, parseMoney } from '../../money.js'
import { uuidSchema } from '../../schemas.js'
import { appendAudit } from '../audit/audit.repository.js'
import {
  type CheckedInsert,
  type CheckedInsertOutcome,
  type NewPurchase,
  purchasesRepository as repo,
} from './purchases.repository.js'
import {
  type CreatePurchaseInput,
  type ListPurchasesQuery,
  type PurchaseOut,
  regionCodeSchema,
} from './purchases.schemas.js'

/** Where a record sits in the request, for error paths: '' (single), '/items/3' (batch), '/rows/18' (import). */
export type PathOf = (index: number) => string

/** What the response carries: the record (single) or the records (batch). */
export type CreateShape = 'single' | 'batch'

export interface CreateOptions {
  shape: CreateShape
  pathOf: PathOf
  /** Check everything, store nothing, answer 200 with what would have happened. */
  dryRun?: boolean
}

export type DryRunBody = { valid: true; count: number; amount: string }
export type ImportBody = { imported: number; amount: string }
export type CreateBody = PurchaseOut | { items: PurchaseOut[] } | ImportBody | DryRunBody

const EARLIEST_DATE = '2000-01-01'
/** The partial unique index that makes a voucher count once among active records. */
export const VOUCHER_INDEX = 'purchases_active_voucher_key'

class VoucherRace extends Error {}

/**
 * Group commit of single-record creates: while `database.batchSlots` statements are in progress, new
 * requests queue and go together in the next (up to WRITE_BATCH), one statement and one commit for all of
 * them. Measured (`npm run bench:write-cost`): PostgreSQL records several times more purchases per second
 * ten to a statement than one, since each statement carries its plan, trigger and commit once.
 */
const WRITE_BATCH = 64

export function createPurchasesService(deps: { database: Database; db: Db; now: () => Date }) {
  /**
   * Runs queued single-record requests: in groups whose members share no voucher and no idempotency key
   * (a later request must see an earlier one's record, as it would one at a time), each group one
   * statement. If a group's statement fails — a concurrent statement took one request's voucher or key —
   * nothing of it was stored, and each of its requests is run alone, so the error reaches only its own.
   */
  async function runChecked(requests: CheckedInsert[]): Promise<Settled<CheckedInsertOutcome>[]> {
    const results: Settled<CheckedInsertOutcome>[] = []
    for (const group of distinctGroups(requests)) {
      const alone = (i: number) =>
        settle(async () => (await repo.insertCheckedMany(deps.db, [requests[i]!]))[0]!)
      let outcomes: Settled<CheckedInsertOutcome>[]
      if (group.length === 1) outcomes = [await alone(group[0]!)]
      else {
        try {
          const rows = await repo.insertCheckedMany(
            deps.db,
            group.map((i) => requests[i]!),
          )
          outcomes = rows.map((value) => ({ ok: true, value }))
        } catch {
          outcomes = await Promise.all(group.map(alone))
        }
      }
      group.forEach((i, j) => {
        results[i] = outcomes[j]!
      })
    }
    return results
  }
  const insertChecked = createBatcher(runChecked, {
    maxBatch: WRITE_BATCH,
    maxInFlight: deps.database.batchSlots,
  })

  /** What the domain checks of a request need: today, the registered regions and the orgs it names. */
  async function domainContext(ex: Executor, principal: Principal, orgIds: string[]): Promise<DomainContext> {
    return {
      principal,
      today: shanghaiToday(deps.now()),
      regions: await repo.regionCodes(ex),
      orgs: await repo.existingOrgIds(ex, [...new Set(orgIds)]),
    }
  }

  /** Domain checks for every record (schema checks already passed); all problems, by path. */
  async function checkRecords(
    ex: Executor,
    principal: Principal,
    items: CreatePurchaseInput[],
    pathOf: PathOf,
  ): Promise<NewPurchase[]> {
    assertOwnOrg(principal, items)
    const c = await domainContext(
      ex,
      principal,
      items.flatMap((i) => (i.org_id ? [i.org_id] : [])),
    )
    const errors = items.flatMap((item, index) =>
      recordProblems(c, item, (field) => `${pathOf(index)}/${field}`),
    )
    if (errors.length > 0) throw validationFailed(errors, `${errors.length} problem(s) in the request.`)
    return items.map((item) => toNewPurchase(principal, item))
  }

  /**
   * One record, in one statement shared with concurrent requests (see `insertCheckedMany` and `runChecked`):
   * the same checks and answers as the general path, with two round trips per request (authentication and
   * this) instead of eight, fewer under load.
   */
  async function createOne(
    idem: IdempotentRequest,
    principal: Principal,
    item: CreatePurchaseInput,
  ): Promise<IdempotentOutcome<CreateBody>> {
    assertOwnOrg(principal, [item])
    const row = toNewPurchase(principal, item)
    const orgId = row.orgId || null
    const today = shanghaiToday(deps.now())
    const at = (field: string) => `/${field}`
    // Date and missing-org problems need no database; the statement then only reports region and org.
    const offline = recordProblems(
      { principal, today, regions: new Set([row.regionCode]), orgs: new Set(orgId ? [orgId] : []) },
      item,
      at,
    )
    for (let attempt = 1; ; attempt++) {
      let out: CheckedInsertOutcome
      try {
        out = await insertChecked({
          actorKeyId: principal.keyId,
          row,
          orgId,
          proceed: offline.length === 0,
          idempotencyKey: idem.key ?? null,
          fingerprint: idem.fingerprint,
        })
      } catch (err) {
        const constraint = pgErrorCode(err) === '23505' ? pgConstraint(err) : undefined
        // A concurrent request won the key or the voucher; once it has committed, the retry sees it.
        if (
          attempt < 3 &&
          (constraint === 'idempotency_keys_api_key_id_key_pk' || constraint === VOUCHER_INDEX)
        ) {
          continue
        }
        throw err
      }
      if (out.priorStatus !== null) {
        if (out.priorFingerprint !== idem.fingerprint) throw idempotencyKeyReused()
        return { status: out.priorStatus, body: out.priorBody as CreateBody, replayed: true }
      }
      const problems = recordProblems(
        {
          principal,
          today,
          regions: new Set(out.regionOk ? [row.regionCode] : []),
          orgs: new Set(out.orgOk && orgId ? [orgId] : []),
        },
        item,
        at,
      )
      if (problems.length > 0)
        throw validationFailed(problems, `${problems.length} problem(s) in the request.`)
      if (out.clashId) {
        throw voucherClash(
          [{ path: at('voucher_no'), message: voucherTakenMessage(row.voucherNo!, out.clashId) }],
          out.clashId,
        )
      }
      return { status: 201, body: out.created!, replayed: false }
    }
  }

  /** 409 listing every record whose voucher clashes with another in the request or an active stored one. */
  async function checkVouchers(ex: Executor, rows: NewPurchase[], pathOf: PathOf): Promise<void> {
    const byVoucher = new Map<string, number[]>()
    rows.forEach((r, i) => {
      if (r.voucherNo !== null) byVoucher.set(r.voucherNo, [...(byVoucher.get(r.voucherNo) ?? []), i])
    })
    const stored = new Map(
      (await repo.activeByVouchers(ex, [...byVoucher.keys()])).map((s) => [s.voucherNo, s.id]),
    )
    const errors: FieldError[] = []
    let existingId: string | undefined
    for (const [voucher, indexes] of byVoucher) {
      const existing = stored.get(voucher)
      if (existing) {
        existingId ??= existing
        for (const i of indexes) {
          errors.push({ path: `${pathOf(i)}/voucher_no`, message: voucherTakenMessage(voucher, existing) })
        }
      } else if (indexes.length > 1) {
        for (const i of indexes) {
          errors.push({
            path: `${pathOf(i)}/voucher_no`,
            message: `voucher ${voucher} appears more than once in this request`,
          })
        }
      }
    }
    if (errors.length === 0) return
    errors.sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }))
    throw voucherClash(errors, existingId)
  }

  return {
    /**
     * Creates records all-or-nothing in one transaction with the idempotency record. Vouchers are checked
     * first for a helpful 409; the partial unique index decides races, which end in the same 409.
     */
    async create(
      idem: IdempotentRequest,
      principal: Principal,
      items: CreatePurchaseInput[],
      opts: CreateOptions,
    ): Promise<IdempotentOutcome<CreateBody>> {
      if (opts.shape === 'single' && !opts.dryRun && items.length === 1)
        return createOne(idem, principal, items[0]!)
      try {
        return await runIdempotent<CreateBody>(deps.db, idem, async (tx) => {
          const rows = await checkRecords(tx, principal, items, opts.pathOf)
          await checkVouchers(tx, rows, opts.pathOf)
          const amount = formatMoney(rows.reduce((sum, r) => sum + r.amountFen, 0n))
          if (opts.dryRun) return { status: 200, body: { valid: true, count: rows.length, amount } }
          try {
            const records = await repo.insertMany(tx, principal.keyId, rows)
            return { status: 201, body: opts.shape === 'single' ? records[0]! : { items: records } }
          } catch (err) {
            if (pgErrorCode(err) === '23505' && pgConstraint(err) === VOUCHER_INDEX) {
              throw new VoucherRace()
            }
            throw err
          }
        })
      } catch (err) {
        if (!(err instanceof VoucherRace)) throw err
        // Another request took a voucher between our check and our insert: report it like the pre-check would.
        const rows = await checkRecords(deps.db, principal, items, opts.pathOf)
        await checkVouchers(deps.db, rows, opts.pathOf)
        throw new AppError(
          'duplicate_voucher',
          409,
          'A voucher number was taken by a concurrent request; retry.',
        )
      }
    },

    /**
     * The domain problems (unknown region or org, future date…) of a request that already failed schema
     * validation, judged on its well-formed fields only, so one 400 lists every problem. A reporter naming
     * another org is still a 403, as it is for a well-formed request.
     */
    async problemsOfInvalid(
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
    },

    async get(principal: Principal, id: string): Promise<PurchaseOut> {
      const record = await repo.findById(deps.db, id)
      // A reporter gets the same 404 for another org's record as for a missing one: no existence leak.
      if (!record || (principal.role === 'reporter' && record.org_id !== principal.orgId))
        throw notFound('Purchase')
      return record
    },

    async void(idem: IdempotentRequest, principal: Principal, id: string, reason: string) {
      return runIdempotent<PurchaseOut>(deps.db, idem, async (tx) => {
        const record = await repo.findById(tx, id)
        if (!record) throw notFound('Purchase')
        if (principal.role === 'reporter' && record.org_id !== principal.orgId) {
          throw forbidden("A reporter key can only void its own org's purchases.")
        }
        const changed = await repo.voidActive(tx, id, reason, principal.keyId)
        if (!changed) throw new AppError('conflict', 409, `Purchase ${id} is already voided.`)
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
    },

    async list(principal: Principal, query: ListPurchasesQuery) {
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
      const rows = await repo.list(
        deps.db,
        filters,
        after ? { occurredOn: String(after[0]), id: String(after[1]) } : undefined,
        limit + 1,
      )
      const items = rows.slice(0, limit)
      const last = items[items.length - 1]
      return {
        items,
        next_cursor: rows.length > limit && last ? encodeCursor([last.occurred_on, last.id], filters) : null,
      }
    },
  }
}

/**
 * Splits requests (by index, order kept) into groups in which no two share a voucher or an
 * (API key, idempotency key) pair: the first group takes every first occurrence, the next the second ones…
 */
export function distinctGroups(requests: CheckedInsert[]): number[][] {
  const groups: { members: number[]; taken: Set<string> }[] = []
  requests.forEach((r, i) => {
    const marks = [
      r.row.voucherNo === null ? undefined : `v:${r.row.voucherNo}`,
      r.idempotencyKey === null ? undefined : `k:${r.actorKeyId}:${r.idempotencyKey}`,
    ].filter((m) => m !== undefined)
    let group = groups.find((g) => marks.every((m) => !g.taken.has(m)))
    if (!group) {
      group = { members: [], taken: new Set() }
      groups.push(group)
    }
    group.members.push(i)
    for (const m of marks) group.taken.add(m)
  })
  return groups.map((g) => g.members)
}

export function toNewPurchase(principal: Principal, item: CreatePurchaseInput): NewPurchase {
  return {
    channel: item.channel,
    amountFen: parseMoney(item.amount)!,
    occurredOn: item.occurred_on,
    orgId: principal.role === 'reporter' ? principal.orgId! : (item.org_id ?? ''),
    regionCode: item.region_code,
    supplier: item.supplier,
    supplierCreditCode: item.supplier_credit_code ?? null,
    product: item.product ?? null,
    voucherNo: item.voucher_no ?? null,
    externalRef: item.external_ref ?? null,
    note: item.note ?? null,
  }
}

export const voucherTakenMessage = (voucher: string, existingId: string) =>
  `voucher ${voucher} is already on active record ${existingId}`

/** 409 duplicate_voucher; `existingId` names the stored record when the clash is with one. */
export function voucherClash(errors: FieldError[], existingId: string | undefined) {
  const detail = existingId
    ? `Voucher number already counted on active record ${existingId}.`
    : 'Voucher numbers repeat within the request.'
  return new AppError(
    'duplicate_voucher',
    409,
    detail,
    errors,
    existingId ? { existing_id: existingId } : undefined,
  )
}

export interface DomainContext {
  principal: Principal
  today: string
  regions: Set<string>
  orgs: Set<string>
}

const isUuid = (v: unknown): v is string => typeof v === 'string' && uuidSchema.safeParse(v).success

/** A reporter records for its own org only. */
export function assertOwnOrg(principal: Principal, items: { org_id?: unknown }[]) {
  if (principal.role === 'reporter' && items.some((i) => i.org_id && i.org_id !== principal.orgId)) {
    throw forbidden('A reporter key can only record purchases for its own org.')
  }
}

/**
 * The domain problems of one record. Only fields that are well-formed are judged (a malformed one is the
 * schema's problem), so this also serves requests that failed schema validation.
 */
export function recordProblems(
  c: DomainContext,
  item: { org_id?: unknown; occurred_on?: unknown; region_code?: unknown },
  at: (field: string) => string,
): FieldError[] {
  const errors: FieldError[] = []
  if (c.principal.role !== 'reporter') {
    if (item.org_id === undefined) errors.push({ path: at('org_id'), message: 'required for admin keys' })
    else if (isUuid(item.org_id) && !c.orgs.has(item.org_id)) {
      errors.push({ path: at('org_id'), message: 'no such org' })
    }
  }
  const date = item.occurred_on
  if (typeof date === 'string' && isCalendarDate(date)) {
    if (date > c.today) {
      errors.push({
        path: at('occurred_on'),
        message: `must not be in the future (today is ${c.today} in Asia/Shanghai)`,
      })
    } else if (date < EARLIEST_DATE) {
      errors.push({ path: at('occurred_on'), message: `must not be before ${EARLIEST_DATE}` })
    }
  }
  const region = item.region_code
  if (typeof region === 'string' && regionCodeSchema.safeParse(region).success && !c.regions.has(region)) {
    errors.push({
      path: at('region_code'),
      message: 'not a registered counterpart region (see GET /v1/regions)',
    })
  }
  return errors
}

/** A reporter's filters always name its own org; naming another is a 403. */
export function scopeFilters<T extends { org_id?: string }>(principal: Principal, query: T): T {
  if (principal.role !== 'reporter') return query
  if (query.org_id && query.org_id !== principal.orgId) {
    throw forbidden("A reporter key can only see its own org's purchases.")
  }
  return { ...query, org_id: principal.orgId! }
}
