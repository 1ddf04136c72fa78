import { decodeCursor, encodeCursor } from '../../cursor.js'
import { isCalendarDate } from '../../dates.js'
import type { Db } from '../../db/client.js'
import { type AuditFilter, type AuditRow, auditPage } from './audit.repository.js'
import type { AUDIT_ACTIONS, AuditQuery } from './audit.schemas.js'

/** A date bound in Asia/Shanghai (UTC+8, no daylight saving) as an instant. */
function bound(value: string, end: boolean): Date {
  if (!isCalendarDate(value)) return new Date(value)
  const start = new Date(`${value}T00:00:00+08:00`)
  return end ? new Date(start.getTime() + 86_400_000) : start
}

/** The query's filters as the repository takes them: a date `to` ends before the next day starts. */
const MAX_BIGINT = 2n ** 63n - 1n

function filterOf(filters: Omit<AuditQuery, 'limit' | 'cursor'>, cursor: string | undefined): AuditFilter {
  const { to } = filters
  const filter: AuditFilter = {
    entity: filters.entity || undefined,
    entityId: filters.entity_id || undefined,
    action: filters.action,
    from: filters.from ? bound(filters.from, false) : undefined,
    to: to ? { at: bound(to, true), inclusive: !isCalendarDate(to) } : undefined,
  }
  if (cursor) {
    const [id] = decodeCursor(
      cursor,
      filters,
      1,
      // An id PostgreSQL's bigint can hold: a forged larger one is a 400, not a database error.
      ([p]) => typeof p === 'string' && /^[1-9][0-9]{0,18}$/.test(p) && BigInt(p) <= MAX_BIGINT,
    )
    filter.beforeId = BigInt(id!)
  }
  return filter
}

function toAuditEntryOut(r: AuditRow) {
  return {
    id: r.id.toString(),
    at: r.at.toISOString(),
    actor_key_id: r.actorKeyId,
    action: r.action as (typeof AUDIT_ACTIONS)[number],
    entity: r.entity,
    entity_id: r.entityId,
    before: r.before,
    after: r.after,
  }
}

export function createAuditService(deps: { db: Db }) {
  return {
    async list(q: AuditQuery) {
      const { limit, cursor, ...filters } = q
      const rows = await auditPage(deps.db, filterOf(filters, cursor), limit + 1)
      const items = rows.slice(0, limit).map(toAuditEntryOut)
      const last = items[items.length - 1]
      return { items, next_cursor: rows.length > limit && last ? encodeCursor([last.id], filters) : null }
    },
  }
}
