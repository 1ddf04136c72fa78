import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** What a client's X-Request-Id may be to be kept: it goes into every log line of the request. */
const CLIENT_ID = /^[\x21-\x7e]{1,128}$/

/**
 * The request's id: the client's `X-Request-Id` when it is 1–128 printable ASCII characters without
 * spaces (so a caller can follow its request through our logs), otherwise a new UUID. Echoed in the
 * response's `X-Request-Id`.
 */
export function requestIdOf(req: IncomingMessage): string {
  const sent = req.headers['x-request-id']
  return typeof sent === 'string' && CLIENT_ID.test(sent) ? sent : randomUUID()
}
