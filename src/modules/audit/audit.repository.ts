import type { Executor } from '../../db/client.js'
import { auditLog } from '../../db/schema.js'

export type AuditAction =
  | 'purchase.created'
  | 'purchase.voided'
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
