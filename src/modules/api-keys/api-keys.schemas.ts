import { z } from 'zod'
import { textInput, timestampOutput } from '../../schemas.js'

export const ROLES = ['admin', 'finance', 'reporter'] as const

const apiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    role: z.enum(ROLES),
    org_id: z.uuid().nullable(),
    created_at: timestampOutput,
    revoked_at: timestampOutput.nullable(),
  })
  .meta({ id: 'ApiKey' })
export type ApiKeyOut = z.infer<typeof apiKeySchema>

export const createdApiKeySchema = apiKeySchema
  .extend({ secret: z.string().meta({ description: 'Shown only in this response; stored only as a hash.' }) })
  .meta({ id: 'CreatedApiKey' })

export const createApiKeyBody = z
  .strictObject({
    name: textInput(200),
    role: z.enum(ROLES),
    org_id: z.uuid({ error: 'must be a UUID' }).optional(),
  })
  .superRefine((b, ctx) => {
    if (b.role === 'reporter' && !b.org_id) {
      ctx.addIssue({ code: 'custom', path: ['org_id'], message: 'a reporter key must name an org' })
    }
    if (b.role !== 'reporter' && b.org_id) {
      ctx.addIssue({ code: 'custom', path: ['org_id'], message: `an ${b.role} key must not name an org` })
    }
  })
export const apiKeyList = z.object({ items: z.array(apiKeySchema) })
