import { maxHeaderSize, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import fp from 'fastify-plugin'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { asDbError, DatabaseUnavailable, MalformedValue, OutOfRange, StorageFailure } from '../db/errors.js'
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
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
}

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

/** Our own errors: their status, code, field errors and extension members, as thrown. */
function sendAppError(request: FastifyRequest, reply: FastifyReply, err: AppError) {
  if (err.status >= 500) request.log.error({ err }, 'request failed')
  if (err.code === 'rate_limited') reply.header('retry-after', String(err.extra?.retry_after ?? 60))
  return send(reply, err.status, {
    ...problemBody(err.code, err.status, err.detail, err.errors),
    ...Object.fromEntries(Object.entries(err.extra ?? {}).filter(([k]) => k !== 'retry_after')),
  })
}

/**
 * Database errors a client should see as its own (a malformed value: 400) or as "retry" (the database is
 * unavailable, or cannot store: 503); undefined for the rest, which are ours. Validation should catch malformed values
 * first; if one slips through, it is still the client's 400 — and the SQL message is logged, never sent.
 */
function sendDatabaseError(request: FastifyRequest, reply: FastifyReply, err: FastifyError) {
  const dbError = asDbError(err)
  if (dbError instanceof MalformedValue) {
    request.log.warn(
      { err: { message: err.message, code: dbError.sqlstate } },
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
  if (dbError instanceof OutOfRange) {
    request.log.warn({ err: { message: err.message, code: dbError.sqlstate } }, 'value out of range')
    return send(
      reply,
      400,
      problemBody(
        'validation_failed',
        400,
        'An amount, or a total it would make, is beyond the largest total the database can hold.',
        [{ path: '/', message: 'beyond the largest total the database can hold' }],
      ),
    )
  }
  if (dbError instanceof StorageFailure) {
    // An operator has to act (free disk space, replace a failing disk): logged as an error, with the cause.
    request.log.error({ err: { message: dbError.message, code: dbError.sqlstate } }, 'database cannot store')
    reply.header('retry-after', '30')
    return send(
      reply,
      503,
      problemBody(
        'service_unavailable',
        503,
        'The database cannot store data right now (its disk is full or failing); retry later.',
      ),
    )
  }
  if (dbError instanceof DatabaseUnavailable) {
    request.log.warn({ err: { message: err.message, code: err.code } }, 'database unavailable')
    reply.header('retry-after', '1')
    return send(
      reply,
      503,
      problemBody('service_unavailable', 503, 'The database is unavailable; retry shortly.'),
    )
  }
  return undefined
}

/** Fastify's own client errors (malformed or empty JSON body, wrong content type …); undefined for others. */
function sendFastifyError(request: FastifyRequest, reply: FastifyReply, err: FastifyError) {
  const status = err.statusCode ?? 500
  const code = status < 500 ? FASTIFY_STATUS_CODES[status] : undefined
  if (!code) return undefined
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

/**
 * Any error as RFC 9457 problem+json; never leaks stacks or SQL. The app's error handler, and Fastify's
 * `frameworkErrors` (a path it cannot route: malformed, or a parameter over the length limit → 414).
 */
export function sendProblem(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err instanceof AppError) return sendAppError(request, reply, err)
  if (hasZodFastifySchemaValidationErrors(err)) {
    const errors = zodErrors(err as FastifyError & { validation: unknown[] })
    return send(reply, 400, problemBody('validation_failed', 400, 'The request is invalid.', errors))
  }
  const sent = sendDatabaseError(request, reply, err) ?? sendFastifyError(request, reply, err)
  if (sent) return sent
  request.log.error({ err }, 'unhandled error')
  return send(reply, 500, problemBody('internal', 500, 'An internal error occurred.'))
}

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/** 404 for a path no route serves; 405 with `Allow` for a path served only for other methods. */
function sendNoRoute(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?')[0]!
  const allowed = METHODS.filter((method) => app.findRoute({ method, url: path }) !== null)
  if (allowed.length === 0) {
    return send(reply, 404, problemBody('not_found', 404, `Route ${request.method} ${path} not found.`))
  }
  const detail = `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}.`
  reply.header('allow', allowed.join(', '))
  return send(reply, 405, problemBody('method_not_allowed', 405, detail))
}

/** What Node's HTTP parser refuses before Fastify sees a request, by its error code. */
function clientErrorProblem(err: NodeJS.ErrnoException) {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return problemBody(
      'headers_too_large',
      431,
      `The request line and headers exceed ${maxHeaderSize / 1024} KiB.`,
    )
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return problemBody('request_timeout', 408, 'The request did not arrive in time.')
  }
  return problemBody('validation_failed', 400, 'The request is not well-formed HTTP.', [
    { path: '/', message: 'malformed request line or headers' },
  ])
}

/**
 * Fastify's `clientErrorHandler`: a request Node's parser refuses (headers over `maxHeaderSize`, a malformed
 * request line or header, a request timeout) is answered problem+json like every other error, then the
 * connection is closed, as Node and Fastify do by default.
 */
export function sendClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  this.log.debug({ err: { message: err.message, code: err.code } }, 'client error')
  if (socket.writable) {
    const problem = clientErrorProblem(err)
    const body = JSON.stringify(problem)
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
        'Content-Type: application/problem+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}

/** One place that turns every error into RFC 9457 problem+json; never leaks stacks or SQL. */
export const errorHandlerPlugin = fp(async (app: FastifyInstance) => {
  // Fastify parses text/plain bodies by default; the contract wants 415 for any body that is not JSON, so
  // only the JSON parser stays (a route that takes another type, like the CSV import, adds its own).
  app.removeContentTypeParser('text/plain')
  app.setErrorHandler(sendProblem)
  app.setNotFoundHandler((request, reply) => sendNoRoute(app, request, reply))
})
