import { isUtf8 } from 'node:buffer'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, validationFailed } from '../errors.js'
import { charsetOf } from '../http/charset.js'

const UTF8 = ['utf-8', 'utf8']

/**
 * JSON bodies are UTF-8 (RFC 8259): a `charset` parameter naming anything else is 415, and bytes that are not
 * valid UTF-8 are 400 — Fastify's own parser decodes them to U+FFFD, which would then be stored. A leading
 * byte order mark is ignored. Parsing is Fastify's (prototype poisoning refused).
 */
export const jsonBodyPlugin = fp(async (app: FastifyInstance) => {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    const charset = charsetOf(request.headers['content-type'])
    if (charset !== undefined && !UTF8.includes(charset)) {
      const detail = `JSON bodies are UTF-8; charset=${charset.slice(0, 40)} is not accepted.`
      done(new AppError('unsupported_media_type', 415, detail), undefined)
    } else if (!isUtf8(body)) {
      const errors = [{ path: '/', message: 'the body is not valid UTF-8' }]
      done(validationFailed(errors, 'The body is not valid UTF-8.'), undefined)
    } else parse(request, body.toString('utf8'), done)
  })
})
