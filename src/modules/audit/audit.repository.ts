import { and, desc, eq, gte, lt, lte } from 'drizzle-orm'
import type { Db, Executor } from '../../db/client.js'
import { auditLog } from '../../db/schema.js'

export type AuditRow = typeof auditLog.$inferSelect

type AuditAction =
  | 'purchase.created'
  | 'purchase.voided'
  | 'purchase.voucher_near_duplicate' // written by migration 0007 only
  | 'targets.replaced'
  | 'canteen_budget.set'
  | 'org.created'
  | 'org.updated'
  | 'region.created'
  | 'api_key.created'
  | 'api_key.revoked'

export interface AuditEntry {
  actorKeyId: string | null
  action: AuditAction
  entity: string
  entityId: string
  before?: unknown
  after?: unknown
}

/** Appends audit rows; call it with the transaction that makes the change, never on its own. */
export async function appendAudit(tx: Executor, entries: AuditEntry | AuditEntry[]): Promise<void> {
  const list = Array.isArray(entries) ? entries : [entries]
  if (list.length === 0) return
  await tx.insert(auditLog).values(
    list.map((e) => ({
      actorKeyId: e.actorKeyId,
      action: e.action,
      entity: e.entity,
      entityId: e.entityId,
      before: e.before ?? null,
      after: e.after ?? null,
    })),
  )
}

/** Which audit rows a page shows; every filter is optional. */
export interface AuditFilter {
  entity?: string
  entityId?: string
  action?: AuditAction
  from?: Date
  /** The upper bound, inclusive or not (a calendar date's end is the next day's start, excluded). */
  to?: { at: Date; inclusive: boolean }
  /** Keyset cursor: only rows with a smaller id. */
  beforeId?: bigint
}

/** Up to `limit` rows matching `filter`, newest (largest id) first. */
export async function auditPage(db: Db, filter: AuditFilter, limit: number): Promise<AuditRow[]> {
  const { to } = filter
  return db
    .select()
    .from(auditLog)
    .where(
      and(
        filter.entity ? eq(auditLog.entity, filter.entity) : undefined,
        filter.entityId ? eq(auditLog.entityId, filter.entityId) : undefined,
        filter.action ? eq(auditLog.action, filter.action) : undefined,
        filter.from ? gte(auditLog.at, filter.from) : undefined,
        to ? (to.inclusive ? lte(auditLog.at, to.at) : lt(auditLog.at, to.at)) : undefined,
        filter.beforeId === undefined ? undefined : lt(auditLog.id, filter.beforeId),
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(limit)
}
