/** Zod building blocks shared by the modules' schemas: money, dates, ids, paging and error responses. */
import { z } from 'zod'
import { isCalendarDate } from './dates.js'
import { problemSchema } from './errors.js'
import { MONEY_PATTERN, parseMoney } from './money.js'

export const CHANNELS = ['wholesale', 'union_welfare', 'enterprise', 'canteen', 'market_sales'] as const
export type Channel = (typeof CHANNELS)[number]
export const channelSchema = z.enum(CHANNELS)

/** The Chinese channel labels of shared/domain.md: import cells, export titles, breakdown and report labels. */
export const CHANNEL_LABELS: Record<Channel, string> = {
  wholesale: '大宗批发',
  union_welfare: '工会福利',
  enterprise: '企业采购',
  canteen: '食堂预留',
  market_sales: '市场销售',
}

/** A money amount in a request: a decimal string in yuan, > 0, at most 9999999999.99. */
export const moneyInput = z
  .string({
    error: (iss) =>
      iss.input === undefined
        ? 'required'
        : 'must be a decimal string in yuan such as "125000.50" (a JSON number is not accepted)',
  })
  .regex(
    MONEY_PATTERN,
    'must be a decimal string in yuan with at most 10 integer digits and 2 fraction digits, ASCII digits only, no separators or exponent (e.g. "125000.50")',
  )
  // Only a well-formed amount can be zero; a malformed one already has its format error.
  .refine((s) => (parseMoney(s) ?? 1n) > 0n, 'must be greater than 0')
  .meta({ description: 'Amount in yuan as a decimal string, > 0, ≤ 9999999999.99', example: '125000.50' })

/** A money amount in a response: always exactly two fraction digits. */
export const moneyOutput = z
  .string()
  .meta({ description: 'Amount in yuan, exactly two fraction digits', example: '50000000.00' })

export const dateInput = z
  .string({ error: (iss) => (iss.input === undefined ? 'required' : 'must be a date string YYYY-MM-DD') })
  .refine(isCalendarDate, 'must be a real calendar date YYYY-MM-DD')
  .meta({ description: 'Calendar date YYYY-MM-DD (Asia/Shanghai)', example: '2024-05-20' })

/** Format characters (zero-width space and joiners, soft hyphen, bidi controls, BOM…): invisible. */
const FORMAT_CHARS = /\p{Cf}/gu
/** C0 and C1 control characters other than tab, line feed and carriage return. */
const CONTROL_CHARS = /(?![\t\n\r])\p{Cc}/u

/**
 * Free text from a client (names, supplier, product, voucher, notes …), the same on every create path
 * (single, batch, CSV import, orgs, regions, keys): format characters are removed, since nobody can see
 * them and they would make two equal-looking names or vouchers differ; surrounding space is trimmed; then
 * it must be non-empty and at most `max` characters; control characters (other than tab and line breaks)
 * and lone surrogates (not Unicode text) are refused.
 */
export const textInput = (max: number) =>
  z
    .string()
    .overwrite((s) => s.replace(FORMAT_CHARS, ''))
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine(
      (s) => !CONTROL_CHARS.test(s),
      'must not contain control characters (other than tab and line breaks)',
    )
    .refine((s) => s.isWellFormed(), 'must be Unicode text (it holds a lone surrogate)')

export const timestampOutput = z.string().meta({ description: 'RFC 3339 timestamp with offset' })

export const uuidSchema = z.uuid({ error: 'must be a UUID' })
export const idParams = z.strictObject({ id: uuidSchema })

/** Query and path integers are decimal digits: what Number() would also read (`0x7E8`, `2.024e3`, `+5`) is not. */
const decimalDigitsOnly = (v: unknown) => (typeof v === 'string' && !/^[0-9]{1,15}$/.test(v) ? Number.NaN : v)

/** A query or path integer: decimal digits only, then `schema` (a coercing number schema). */
export const queryInteger = <T extends z.ZodType>(schema: T) => z.preprocess(decimalDigitsOnly, schema)

export const yearSchema = queryInteger(
  z.coerce
    .number({ error: 'must be a year such as 2024' })
    .int('must be a year such as 2024')
    .min(2000, 'must be 2000 or later')
    .max(2100, 'must be 2100 or earlier'),
)

export const pageQuery = {
  limit: queryInteger(
    z.coerce
      .number({ error: 'must be an integer 1–500' })
      .int('must be an integer 1–500')
      .min(1, 'must be an integer 1–500')
      .max(500, 'must be an integer 1–500')
      .default(50),
  ),
  cursor: z.string().min(1).max(2000).optional(),
}

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() })

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (`validation_failed`), every problem in `errors[]`',
  401: 'Missing, unknown or revoked API key (`unauthorized`)',
  403: 'The key lacks the right (`forbidden`)',
  404: 'Not found, or not visible to this key (`not_found`)',
  409: 'Clash with stored state (`duplicate_voucher`, `conflict`, `idempotency_key_in_use`)',
  413: 'Body over the limit (`payload_too_large`)',
  415: 'Wrong content type (`unsupported_media_type`)',
  422: 'Idempotency key already used for a different request (`idempotency_key_reused`)',
  429: 'Rate limit exceeded (`rate_limited`); see `Retry-After`',
  503: 'Database unavailable (`service_unavailable`); retry',
}

/** Error responses every authenticated route can give. */
const BASE_ERRORS = [400, 401, 429, 503] as const

/** The problem+json responses a route lists in the OpenAPI document (401/429/503 always included). */
export function errorResponses(...statuses: number[]) {
  const all = [...new Set([...BASE_ERRORS, ...statuses])].sort()
  return Object.fromEntries(all.map((s) => [s, problemSchema.describe(ERROR_DESCRIPTIONS[s] ?? 'Error')]))
}
