/** The HTTP side of idempotency: the Idempotency-Key header in, the replay marker out. */
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import {
  canonicalJson,
  fingerprint,
  IDEMPOTENCY_KEY_PATTERN,
  type IdempotentOutcome,
  type IdempotentRequest,
} from '../idempotency/idempotency.js'

/** The request's Idempotency-Key header, validated; undefined when absent. */
function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key']
  if (raw === undefined) return undefined
  const key = Array.isArray(raw) ? raw[0] : raw
  if (key === undefined || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new AppError(
      'validation_failed',
      400,
      'Idempotency-Key must be 1–255 printable ASCII characters.',
      [{ path: '/headers/idempotency-key', message: 'must be 1–255 printable ASCII characters' }],
    )
  }
  return key
}

/** Builds the idempotency input of a JSON POST (the body is compared as parsed JSON). */
export function idempotentRequestOf(request: FastifyRequest, bodyDigest?: string): IdempotentRequest {
  const digest =
    bodyDigest ??
    createHash('sha256')
      .update(canonicalJson(request.body ?? null))
      .digest('hex')
  return {
    apiKeyId: request.principal.keyId,
    key: idempotencyKeyOf(request),
    fingerprint: fingerprint(request.method, request.url, digest),
  }
}

/** Sends an outcome, marking replays. */
export function sendOutcome<T>(reply: FastifyReply, outcome: IdempotentOutcome<T>) {
  if (outcome.replayed) reply.header('idempotent-replayed', 'true')
  return reply.code(outcome.status).send(outcome.body)
}
