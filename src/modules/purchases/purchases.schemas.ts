import { z } from 'zod'
import {
  CHANNELS,
  channelSchema,
  dateInput,
  moneyInput,
  moneyOutput,
  page,
  pageQuery,
  textInput,
  timestampOutput,
  uuidSchema,
  yearSchema,
} from '../../schemas.js'
import { creditCodeProblem } from './credit-code.js'
import { MAX_VOUCHER_KEY, voucherKey } from './voucher-key.js'

const text = textInput
/** Optional text: absent, null or a non-empty string. */
const optionalText = (max: number) => text(max).nullish()

export const regionCodeSchema = z
  .string({ error: (iss) => (iss.input === undefined ? 'required' : 'must be a 6-digit region code') })
  .regex(/^[0-9]{6}$/, 'must be a 6-digit region code')

const creditCodeSchema = z
  .string()
  .transform((s) => s.trim().toUpperCase())
  .superRefine((code, ctx) => {
    const problem = creditCodeProblem(code)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })
  .meta({ description: '18-character unified social credit code; the check character is verified' })

const VOUCHER_RULE =
  'Invoice/voucher number, stored as sent (format characters removed, surrounding space trimmed). One voucher ' +
  'counts once among active records across every channel and org, compared as people mean it: invisible ' +
  'characters, full-width forms, whitespace (inside too) and case do not count, so `INV-001`, `inv - 001` and ' +
  '`ＩＮＶ－００１` are the same voucher (Unicode NFKC, case folded). A second active record with the same ' +
  'voucher is a 409 `duplicate_voucher` naming the first; voiding a record frees its voucher.'

/** A voucher number: text whose key (see voucher-key.ts) is neither empty nor too long for the index. */
const voucherInput = text(100).superRefine((v, ctx) => {
  if (v === '' || v.length > 100) return // the text rule's problem
  const key = voucherKey(v)
  if (key === '') ctx.addIssue({ code: 'custom', message: 'must contain a visible character' })
  else if (key.length > MAX_VOUCHER_KEY) {
    ctx.addIssue({
      code: 'custom',
      message: `must be at most ${MAX_VOUCHER_KEY} characters once compatibility forms are expanded`,
    })
  }
})

/** The body of one purchase record (also each item of a batch and each row of an import). */
export const createPurchaseBody = z
  .strictObject({
    channel: channelSchema,
    amount: moneyInput,
    occurred_on: dateInput.meta({ description: 'Not in the future (Asia/Shanghai), not before 2000-01-01' }),
    org_id: uuidSchema.optional().meta({
      description: 'Required for admin keys; a reporter may omit it (its own org) or give its own org',
    }),
    region_code: regionCodeSchema.meta({ description: 'A registered counterpart county (GET /v1/regions)' }),
    supplier: text(200),
    supplier_credit_code: creditCodeSchema.nullish(),
    product: optionalText(200),
    voucher_no: voucherInput.nullish().meta({ description: VOUCHER_RULE }),
    external_ref: optionalText(200),
    note: optionalText(2000),
  })
  .meta({ id: 'PurchaseCreate' })
export type CreatePurchaseInput = z.infer<typeof createPurchaseBody>

export const purchaseSchema = z
  .object({
    id: z.uuid(),
    channel: z.enum(CHANNELS),
    amount: moneyOutput,
    occurred_on: z.string(),
    org_id: z.uuid(),
    region_code: z.string(),
    supplier: z.string(),
    supplier_credit_code: z.string().nullable(),
    product: z.string().nullable(),
    voucher_no: z.string().nullable(),
    external_ref: z.string().nullable(),
    note: z.string().nullable(),
    year: z.number().int(),
    status: z.enum(['active', 'voided']),
    created_at: timestampOutput,
    created_by: z.uuid(),
    voided_at: timestampOutput.nullable(),
    void_reason: z.string().nullable(),
  })
  .meta({ id: 'Purchase' })
export type PurchaseOut = z.infer<typeof purchaseSchema>

export const voidBody = z.strictObject({ reason: text(500) })

export const listPurchasesQuery = z.strictObject({
  year: yearSchema.optional(),
  channel: channelSchema.optional(),
  org_id: uuidSchema.optional(),
  region_code: regionCodeSchema.optional(),
  status: z.enum(['active', 'voided', 'all']).default('active'),
  from: dateInput.optional().meta({ description: 'occurred_on ≥ from' }),
  to: dateInput.optional().meta({ description: 'occurred_on ≤ to' }),
  voucher_no: z.string().min(1).max(100).optional().meta({
    description:
      'Records with this voucher, compared as the create body describes (`inv-001` finds `INV-001`)',
  }),
  external_ref: z.string().min(1).max(200).optional(),
  ...pageQuery,
})
export type ListPurchasesQuery = z.infer<typeof listPurchasesQuery>
export type PurchaseFilters = Omit<ListPurchasesQuery, 'limit' | 'cursor'>
export const purchasePage = page(purchaseSchema)

/** Most items in one batch. */
export const MAX_BATCH_ITEMS = 1_000

/** What a dry run (batch or import) answers: every check passed; nothing was stored. */
export const dryRunResult = z
  .object({ valid: z.literal(true), count: z.number().int(), amount: moneyOutput })
  .meta({ id: 'DryRunResult' })
