import { z } from 'zod'

const ERROR_CODES = [
  'validation_failed',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'request_timeout',
  'duplicate_voucher',
  'idempotency_key_reused',
  'idempotency_key_in_use',
  'conflict',
  'payload_too_large',
  'uri_too_long',
  'unsupported_media_type',
  'rate_limited',
  'headers_too_large',
  'service_unavailable',
  'internal',
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

export interface FieldError {
  path: string
  message: string
}

const TITLES: Record<ErrorCode, string> = {
  validation_failed: 'Validation failed',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  request_timeout: 'Request timeout',
  duplicate_voucher: 'Duplicate voucher',
  idempotency_key_reused: 'Idempotency key reused',
  idempotency_key_in_use: 'Idempotency key in use',
  conflict: 'Conflict',
  payload_too_large: 'Payload too large',
  uri_too_long: 'URI too long',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  headers_too_large: 'Request header fields too large',
  service_unavailable: 'Service unavailable',
  internal: 'Internal server error',
}

/** An error a client should see, rendered as RFC 9457 problem+json by the error handler. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    readonly detail: string,
    readonly errors?: FieldError[],
    /** Extension members, e.g. `existing_id` for duplicate_voucher. */
    readonly extra?: Record<string, unknown>,
  ) {
    super(detail)
    this.name = 'AppError'
  }
}

export const validationFailed = (errors: FieldError[], detail = 'The request is invalid.') =>
  new AppError('validation_failed', 400, detail, errors)
export const notFound = (what: string) => new AppError('not_found', 404, `${what} was not found.`)
export const forbidden = (detail: string) => new AppError('forbidden', 403, detail)
export const conflict = (detail: string) => new AppError('conflict', 409, detail)

export function problemBody(code: ErrorCode, status: number, detail: string, errors?: FieldError[]) {
  return {
    type: `urn:problem-type:${code}`,
    title: TITLES[code],
    status,
    detail,
    code,
    ...(errors && errors.length > 0 ? { errors } : {}),
  }
}

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(ERROR_CODES),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    existing_id: z.string().optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; `code` is stable and machine-readable.' })
