import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { createBatcher } from '../batcher.js'
import { type Database, queryPrepared } from '../db/client.js'
import { AppError } from '../errors.js'

export type Role = 'admin' | 'finance' | 'reporter'

export interface Principal {
  keyId: string
  role: Role
  /** Set for reporters: the only org they may see and write. */
  orgId: string | null
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal
  }
  interface FastifyContextConfig {
    /** Roles allowed on the route; every authenticated role when omitted. */
    roles?: readonly Role[]
  }
}

/** Secrets are random 256-bit strings, so one SHA-256 is the right hash (no slow KDF needed). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex')
}

/**
 * Looks keys up by the hash of their secret: an indexed equality on a digest, so the time taken says
 * nothing about how much of a guessed secret was right. Every request asks the database, never a cache,
 * so a revoked key is refused by every instance at once. Concurrent requests share one lookup (see
 * `createBatcher`: a request is always answered by a lookup that started after it arrived), so a busy
 * instance pays one round trip for many requests.
 */
export function createPrincipalLookup(database: Database): (secret: string) => Promise<Principal | null> {
  const lookup = createBatcher<string, Principal | null>(
    async (hashes) => {
      // One key (an idle service): a plain equality, the cheapest lookup; several: one `= any(…)`.
      const match =
        hashes.length === 1 ? sql`key_hash = ${hashes[0]}` : sql`key_hash = any(${sql.param(hashes)}::text[])`
      const rows = await queryPrepared<Principal & { hash: string }>(
        database.db,
        sql`select key_hash as hash, id as "keyId", role, org_id as "orgId" from api_keys
             where ${match} and revoked_at is null`,
      )
      const byHash = new Map(rows.map(({ hash, ...principal }) => [hash, principal]))
      return hashes.map((h) => ({ ok: true, value: byHash.get(h) ?? null }))
    },
    { maxBatch: 64, maxInFlight: database.batchSlots },
  )
  return (secret) => lookup(hashSecret(secret))
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/**
 * Authenticates every request of the scope it is installed in (the /v1 routes), then checks the route's
 * roles. Deliberately not wrapped in fastify-plugin: the hook must not leak onto /healthz or /docs.
 */
export function installAuth(scope: FastifyInstance, database: Database) {
  const findPrincipal = createPrincipalLookup(database)
  scope.decorateRequest('principal', null as unknown as Principal)
  scope.addHook('onRequest', async (request: FastifyRequest) => {
    const match = BEARER.exec(request.headers.authorization ?? '')
    if (!match) throw new AppError('unauthorized', 401, 'Send an API key as "Authorization: Bearer <key>".')
    const principal = await findPrincipal(match[1]!)
    if (!principal) throw new AppError('unauthorized', 401, 'The API key is unknown or revoked.')
    request.principal = principal
    const roles = request.routeOptions.config.roles
    if (roles && !roles.includes(principal.role)) {
      throw new AppError('forbidden', 403, `This operation needs one of the roles: ${roles.join(', ')}.`)
    }
  })
}
