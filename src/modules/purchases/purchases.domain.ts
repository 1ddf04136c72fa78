/**
 * The purchase rules as pure functions: what is wrong with a record, who may write or see which org, how a
 * request becomes a record, how concurrent requests group into one statement, and the voucher-clash answers.
 * No database, no HTTP: the services gather what these need (today, registered regions, existing orgs).
 */

import type { Principal } from '../../auth/principal.js'
import { ownOrgScope } from '../../auth/visibility.js'
import { isCalendarDate } from '../../dates.js'
import { AppError, type FieldError, forbidden } from '../../errors.js'
import { parseMoney } from '../../money.js'
import { uuidSchema } from '../../schemas.js'
import { type CreatePurchaseInput, regionCodeSchema } from './purchases.schemas.js'
import { voucherKey } from './voucher-key.js'

/** No record may be dated before this day. */
export const EARLIEST_DATE = '2000-01-01'

/** A validated record ready to insert (money already in fen). */
export interface NewPurchase {
  channel: string
  amountFen: bigint
  occurredOn: string
  orgId: string
  regionCode: string
  supplier: string
  supplierCreditCode: string | null
  product: string | null
  voucherNo: string | null
  /** What the voucher is compared by (see voucher-key.ts); null without a voucher. */
  voucherKey: string | null
  externalRef: string | null
  note: string | null
}

/** What the per-record checks need from outside the record. */
export interface DomainContext {
  principal: Principal
  /** Today in Asia/Shanghai, `YYYY-MM-DD`. */
  today: string
  /** Registered counterpart region codes (of those the request names, or all). */
  regions: Set<string>
  /** Existing org ids (of those the request names). */
  orgs: Set<string>
}

/** Where a record sits in the request, for error paths: '' (single), '/items/3' (batch), '/rows/18' (import). */
export type PathOf = (index: number) => string

export const isUuid = (v: unknown): v is string => typeof v === 'string' && uuidSchema.safeParse(v).success

/** A reporter records for its own org only: 403 when any item names another. */
export function assertOwnOrg(principal: Principal, items: readonly { org_id?: unknown }[]): void {
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

/** A reporter's filters always name its own org; naming another is a 403 (src/auth/visibility.ts). */
export function scopeFilters<T extends { org_id?: string }>(principal: Principal, query: T): T {
  const orgId = ownOrgScope(principal, query.org_id, 'purchases')
  return orgId === query.org_id ? query : { ...query, org_id: orgId }
}

/**
 * A checked request body → the record to store: amount in fen, absent optional fields null, and a
 * reporter's record always in its own org (an admin's without `org_id` gets '' and fails the org check).
 */
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
    voucherKey: item.voucher_no == null ? null : voucherKey(item.voucher_no),
    externalRef: item.external_ref ?? null,
    note: item.note ?? null,
  }
}

/** What a write request claims that no concurrent request in the same statement may share. */
export interface GroupMarks {
  voucherKey: string | null
  actorKeyId: string
  idempotencyKey: string | null
}

/**
 * Splits requests (by index, order kept) into groups in which no two share a voucher key or an
 * (API key, idempotency key) pair: the first group takes every first occurrence, the next the second ones…
 * so a later request sees an earlier one's record, as it would one at a time.
 */
export function distinctGroups(requests: readonly GroupMarks[]): number[][] {
  const groups: { members: number[]; taken: Set<string> }[] = []
  requests.forEach((r, i) => {
    const marks = [
      r.voucherKey === null ? undefined : `v:${r.voucherKey}`,
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

export const voucherTakenMessage = (voucher: string, existingId: string) =>
  `voucher ${voucher} is already on active record ${existingId}`

export const voucherRepeatedMessage = (voucher: string) =>
  `voucher ${voucher} appears more than once in this request`

/** 409 duplicate_voucher; `existingId` names the stored record when the clash is with one. */
export function voucherClash(errors: FieldError[], existingId: string | undefined): AppError {
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

/** The 409 when a concurrent request took a voucher between our check and our insert. */
export const voucherRace = () =>
  new AppError('duplicate_voucher', 409, 'A voucher number was taken by a concurrent request; retry.')

/** A record's voucher as the clash checks see it. */
type Voucher = { voucherNo: string | null; voucherKey: string | null }

/**
 * Every voucher clash of a batch, sorted by path: records whose voucher key is on a stored active record
 * (`stored`: key → record id), and records sharing a key within the request ('INV-001' and 'inv - 001'
 * do). Each message quotes the record's own voucher text. Throws the 409 when there is any.
 */
export function assertNoVoucherClash(
  rows: readonly Voucher[],
  stored: ReadonlyMap<string, string>,
  pathOf: PathOf,
): void {
  const byKey = new Map<string, number[]>()
  rows.forEach((r, i) => {
    if (r.voucherKey === null) return
    const indexes = byKey.get(r.voucherKey)
    if (indexes) indexes.push(i)
    else byKey.set(r.voucherKey, [i])
  })
  const errors: FieldError[] = []
  let existingId: string | undefined
  for (const [key, indexes] of byKey) {
    const existing = stored.get(key)
    if (!existing && indexes.length < 2) continue
    existingId ??= existing
    for (const i of indexes) {
      const voucher = rows[i]!.voucherNo!
      const message = existing ? voucherTakenMessage(voucher, existing) : voucherRepeatedMessage(voucher)
      errors.push({ path: `${pathOf(i)}/voucher_no`, message })
    }
  }
  if (errors.length === 0) return
  errors.sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }))
  throw voucherClash(errors, existingId)
}

/** The distinct voucher keys of some records. */
export const voucherKeysOf = (rows: readonly Voucher[]): string[] => [
  ...new Set(rows.flatMap((r) => (r.voucherKey === null ? [] : [r.voucherKey]))),
]
