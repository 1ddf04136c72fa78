import { and, desc, eq, gte, lt, lte, type SQL } from 'drizzle-orm'
import { decodeCursor, encodeCursor } from '../../cursor.js'
import { isCalendarDate } from '../../dates.js'
import type { Db } from '../../db/client.js'
import { auditLog } from '../../db/schema.js'
import type { AUDIT_ACTIONS, AuditQuery } from './audit.schemas.js'

/** A date bound in Asia/Shanghai (UTC+8, no daylight saving) as an instant. */
function bound(value: string, end: boolean): Date {
  if (!isCalendarDate(value)) return new Date(value)
  const start = new Date(`${value}T00:00:00+08:00`)
  return end ? new Date(start.getTime() + 86_400_000) : start
}

export function createAuditService(deps: { db: Db }) {
  return {
    async list(q: AuditQuery) {
      const { limit, cursor, ...filters } = q
      const where: (SQL | undefined)[] = [
        filters.entity ? eq(auditLog.entity, filters.entity) : undefined,
        filters.entity_id ? eq(auditLog.entityId, filters.entity_id) : undefined,
        filters.action ? eq(auditLog.action, filters.action) : undefined,
        filters.from ? gte(auditLog.at, bound(filters.from, false)) : undefined,
        filters.to
          ? isCalendarDate(filters.to)
            ? lt(auditLog.at, bound(filters.to, true))
            : lte(auditLog.at, bound(filters.to, true))
          : undefined,
      ]
      if (cursor) {
        const [id] = decodeCursor(
          cursor,
          filters,
          1,
          ([p]) => typeof p === 'string' && /^[1-9][0-9]{0,18}$/.test(p),
        )
        where.push(lt(auditLog.id, BigInt(id!)))
      }
      const rows = await deps.db
        .select()
        .from(auditLog)
        .where(and(...where))
        .orderBy(desc(auditLog.id))
        .limit(limit + 1)
      const items = rows.slice(0, limit).map((r) => ({
        id: r.id.toString(),
        at: r.at.toISOString(),
        actor_key_id: r.actorKeyId,
        action: r.action as (typeof AUDIT_ACTIONS)[number],
        entity: r.entity,
        entity_id: r.entityId,
        before: r.before,
        after: r.after,
      }))
      const last = items[items.length - 1]
      return { items, next_cursor: rows.length > limit && last ? encodeCursor([last.id], filters) : null }
    },
  }
}
