import { z } from 'zod'
import { isCalendarDate } from '../../dates.js'
import { page, pageQuery, timestampOutput } from '../../schemas.js'

export const AUDIT_ACTIONS = [
  'purchase.created',
  'purchase.voided',
  // Written by migration 0007 for each near-duplicate voucher it found among the records already stored.
  'purchase.voucher_near_duplicate',
  'targets.replaced',
  'canteen_budget.set',
  'org.created',
  'org.updated',
  'region.created',
  'api_key.created',
  'api_key.revoked',
] as const

const auditEntrySchema = z
  .object({
    id: z.string().meta({ description: 'Increasing sequence number, as a string' }),
    at: timestampOutput,
    actor_key_id: z.string().nullable(),
    action: z.enum(AUDIT_ACTIONS),
    entity: z.string(),
    entity_id: z.string(),
    before: z.unknown().nullable(),
    after: z.unknown().nullable(),
  })
  .meta({ id: 'AuditEntry' })

const instant = z
  .string()
  .refine(
    (s) => isCalendarDate(s) || (/^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s))),
    'must be an RFC 3339 timestamp or a date YYYY-MM-DD',
  )

export const auditQuery = z.strictObject({
  entity: z.string().max(50).optional(),
  entity_id: z.string().max(100).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  from: instant.optional().meta({ description: 'Inclusive; a date means its start in Asia/Shanghai' }),
  to: instant.optional().meta({ description: 'Inclusive; a date means its end in Asia/Shanghai' }),
  ...pageQuery,
})
export type AuditQuery = z.infer<typeof auditQuery>
export const auditPage = page(auditEntrySchema)
