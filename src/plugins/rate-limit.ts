import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'

/**
 * Per-API-key request limit, registered inside the /v1 scope after authentication so the key is known.
 * Counters live in each instance's memory: with N instances the effective limit is up to N × the setting,
 * which is acceptable for abuse protection (no data depends on it).
 */
export async function installRateLimit(scope: FastifyInstance, perMinute: number) {
  if (perMinute === 0) return
  await scope.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => request.principal?.keyId ?? request.ip,
    errorResponseBuilder: (_request, context) =>
      new AppError(
        'rate_limited',
        429,
        `Rate limit of ${context.max} requests per minute exceeded; retry after ${context.after}.`,
        undefined,
        { retry_after: Math.ceil(context.ttl / 1000) },
      ),
  })
}
