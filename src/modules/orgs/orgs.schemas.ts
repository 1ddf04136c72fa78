import { z } from 'zod'
import { page, pageQuery, textInput, timestampOutput } from '../../schemas.js'

const ORG_KINDS = [
  'agency',
  'public_institution',
  'soe',
  'trade_union',
  'enterprise',
  'market',
  'street_town',
  'aid_office',
  'other',
] as const

const name = textInput(200)

export const orgSchema = z
  .object({ id: z.uuid(), name: z.string(), kind: z.enum(ORG_KINDS), created_at: timestampOutput })
  .meta({ id: 'Org' })
export type OrgOut = z.infer<typeof orgSchema>

export const createOrgBody = z.strictObject({ name, kind: z.enum(ORG_KINDS) })
export const patchOrgBody = z
  .strictObject({ name: name.optional(), kind: z.enum(ORG_KINDS).optional() })
  .refine((b) => b.name !== undefined || b.kind !== undefined, 'give at least one of name, kind')
export const listOrgsQuery = z.strictObject({ ...pageQuery })
export const orgPage = page(orgSchema)
