import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { pgErrorCode } from '../db/client.js'
import { AppError, type ErrorCode, type FieldError, problemBody } from '../errors.js'

/** Fastify's own client errors, by status, mapped to our stable codes. */
const FASTIFY_STATUS_CODES: Record<number, ErrorCode> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  406: 'validation_failed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
}

/**
 * SQLSTATE classes that mean "the database is not there right now" (connection failure, shutdown,
 * too many connections, PGlite closed) rather than a bug: answered with 503 so clients retry.
 */
const UNAVAILABLE_SQLSTATES = /^(08|57P0|53300|57014)/
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'])

function isDatabaseUnavailable(err: unknown): boolean {
  const sqlstate = pgErrorCode(err)
  if (sqlstate && UNAVAILABLE_SQLSTATES.test(sqlstate)) return true
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && UNAVAILABLE_NODE_CODES.has(code)) return true
    const msg = (e as { message?: unknown }).message
    // 55000 is a broad class (object not in prerequisite state); only its refused-connection form is an
    // outage: `database "x" is not currently accepting connections` (ALLOW_CONNECTIONS false, being dropped).
    if (code === '55000' && typeof msg === 'string' && /is not currently accepting connections/.test(msg))
      return true
    if (
      typeof msg === 'string' &&
      /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|PGlite is closed/i.test(
        msg,
      )
    )
      return true
  }
  return false
}

/**
 * Data exceptions that only a malformed value from the request can cause (bad uuid/date/number text, a NUL
 * or untranslatable character). Validation should catch these first; if one slips through, it is still the
 * client's 400, not a 500 — and the SQL message is logged, never sent.
 */
const INPUT_SQLSTATES = new Set(['22P02', '22007', '22008', '22021', '22P05'])

function zodErrors(err: FastifyError & { validation: unknown[] }): FieldError[] {
  const context = err.validationContext
  const prefix = context && context !== 'body' ? `/${context}` : ''
  return (
    err.validation as Array<{
      instancePath: string
      message?: string
      keyword: string
      params: Record<string, unknown>
    }>
  ).flatMap((v) => {
    const base = v.instancePath === '/' ? '' : v.instancePath
    if (v.keyword === 'unrecognized_keys' && Array.isArray(v.params.keys)) {
      return (v.params.keys as string[]).map((k) => ({
        path: `${prefix}${base}/${k}`,
        message: 'unknown field',
      }))
    }
    return [{ path: `${prefix}${base}` || '/', message: v.message ?? 'invalid' }]
  })
}

function send(reply: FastifyReply, status: number, body: Record<string, unknown>) {
  return reply.code(status).type('application/problem+json').send(body)
}

/** One place that turns every error into RFC 9457 problem+json; never leaks stacks or SQL. */
export const errorHandlerPlugin = fp(async (app: FastifyInstance) => {
  // Fastify parses text/plain bodies by default; the contract wants 415 for any body that is not JSON, so
  // only the JSON parser stays (a route that takes another type, like the CSV import, adds its own).
  app.removeContentTypeParser('text/plain')
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) request.log.error({ err }, 'request failed')
      if (err.code === 'rate_limited') reply.header('retry-after', String(err.extra?.retry_after ?? 60))
      return send(reply, err.status, {
        ...problemBody(err.code, err.status, err.detail, err.errors),
        ...Object.fromEntries(Object.entries(err.extra ?? {}).filter(([k]) => k !== 'retry_after')),
      })
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const errors = zodErrors(err as FastifyError & { validation: unknown[] })
      return send(reply, 400, problemBody('validation_failed', 400, 'The request is invalid.', errors))
    }
    const sqlstate = pgErrorCode(err)
    if (sqlstate && INPUT_SQLSTATES.has(sqlstate)) {
      request.log.warn(
        { err: { message: err.message, code: sqlstate } },
        'malformed value reached the database',
      )
      return send(
        reply,
        400,
        problemBody('validation_failed', 400, 'A value in the request is malformed.', [
          { path: '/', message: 'a value is malformed' },
        ]),
      )
    }
    if (isDatabaseUnavailable(err)) {
      request.log.warn({ err: { message: err.message, code: err.code } }, 'database unavailable')
      reply.header('retry-after', '1')
      return send(
        reply,
        503,
        problemBody('service_unavailable', 503, 'The database is unavailable; retry shortly.'),
      )
    }
    const status = err.statusCode ?? 500
    const code = status < 500 ? FASTIFY_STATUS_CODES[status] : undefined
    if (code) {
      // Fastify's own 400s (malformed or empty JSON body) name the body as the problem, like ours do.
      const errors = err.validation
        ? err.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? 'invalid' }))
        : status === 400
          ? [{ path: '/', message: err.message }]
          : undefined
      const detail =
        code === 'unsupported_media_type'
          ? `Content-Type "${String(request.headers['content-type'] ?? '').slice(0, 100)}" is not accepted by this route.`
          : err.message
      return send(reply, status, problemBody(code, status, detail, errors))
    }
    request.log.error({ err }, 'unhandled error')
    return send(reply, 500, problemBody('internal', 500, 'An internal error occurred.'))
  })

  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      404,
      problemBody('not_found', 404, `Route ${request.method} ${request.url.split('?')[0]} not found.`),
    ),
  )
})
