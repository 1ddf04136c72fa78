import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { type Db, queryPrepared } from '../db/client.js'
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
 * Looks a key up by the hash of its secret: an indexed equality on a digest, so the time taken says
 * nothing about how much of a guessed secret was right. Every request asks the database (a prepared
 * statement, one round trip), never a cache, so a revoked key is refused by every instance at once.
 */
export async function findPrincipal(db: Db, secret: string): Promise<Principal | null> {
  const [row] = await queryPrepared<Principal>(
    db,
    sql`select id as "keyId", role, org_id as "orgId" from api_keys
         where key_hash = ${hashSecret(secret)} and revoked_at is null`,
  )
  return row ?? null
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/**
 * Authenticates every request of the scope it is installed in (the /v1 routes), then checks the route's
 * roles. Deliberately not wrapped in fastify-plugin: the hook must not leak onto /healthz or /docs.
 */
export function installAuth(scope: FastifyInstance, db: Db) {
  scope.decorateRequest('principal', null as unknown as Principal)
  scope.addHook('onRequest', async (request: FastifyRequest) => {
    const match = BEARER.exec(request.headers.authorization ?? '')
    if (!match) throw new AppError('unauthorized', 401, 'Send an API key as "Authorization: Bearer <key>".')
    const principal = await findPrincipal(db, match[1]!)
    if (!principal) throw new AppError('unauthorized', 401, 'The API key is unknown or revoked.')
    request.principal = principal
    const roles = request.routeOptions.config.roles
    if (roles && !roles.includes(principal.role)) {
      throw new AppError('forbidden', 403, `This operation needs one of the roles: ${roles.join(', ')}.`)
    }
  })
}
