import { randomBytes } from 'node:crypto'
import type { FindPrincipal, Principal } from '../../auth/principal.js'
import { hashSecret } from '../../auth/secret.js'
import { createBatcher } from '../../batcher.js'
import { type Database, type Db, inTransaction, type Tx } from '../../db/client.js'
import { notFound, validationFailed } from '../../errors.js'
import { type EffectResult, type IdempotentRequest, runIdempotent } from '../../idempotency/idempotency.js'
import { appendAudit } from '../audit/index.js'
import { orgExists } from '../orgs/index.js'
import { type ApiKeyRow, apiKeysRepository as repo } from './api-keys.repository.js'
import type { ApiKeyOut } from './api-keys.schemas.js'

/** A new secret: 32 random bytes, base64url, with a recognisable prefix for secret scanners. */
function generateSecret(): string {
  return `mhk_${randomBytes(32).toString('base64url')}`
}

function toApiKeyOut(row: ApiKeyRow): ApiKeyOut {
  return {
    id: row.id,
    name: row.name,
    role: row.role as ApiKeyOut['role'],
    org_id: row.orgId,
    created_at: row.createdAt.toISOString(),
    revoked_at: row.revokedAt?.toISOString() ?? null,
  }
}

/** Creates a key and returns its secret once; the audit row never holds the secret. */
async function createIn(
  tx: Tx,
  actorKeyId: string | null,
  input: { name: string; role: ApiKeyOut['role']; org_id?: string },
): Promise<EffectResult<ApiKeyOut & { secret: string }>> {
  if (input.org_id && !(await orgExists(tx, input.org_id))) {
    throw validationFailed([{ path: '/org_id', message: 'no such org' }])
  }
  const secret = generateSecret()
  const row = await repo.insert(tx, {
    name: input.name,
    role: input.role,
    orgId: input.org_id ?? null,
    keyHash: hashSecret(secret),
  })
  const key = toApiKeyOut(row)
  await appendAudit(tx, {
    actorKeyId,
    action: 'api_key.created',
    entity: 'api_key',
    entityId: key.id,
    after: key,
  })
  return { status: 201, body: { ...key, secret } }
}

/**
 * Looks keys up by the hash of their secret. Every request asks the database, never a cache, so a revoked
 * key is refused by every instance at once. Concurrent requests share one lookup (see `createBatcher`: a
 * request is always answered by a lookup that started after it arrived), so a busy instance pays one round
 * trip for many requests.
 */
export function createPrincipalLookup(database: Database): FindPrincipal {
  const lookup = createBatcher<string, Principal | null>(
    async (hashes) => {
      const rows = await repo.principalsByHash(database.db, hashes)
      const byHash = new Map(rows.map(({ hash, ...principal }) => [hash, principal]))
      return hashes.map((h) => ({ ok: true, value: byHash.get(h) ?? null }))
    },
    { maxBatch: 64, maxInFlight: database.batchSlots },
  )
  return (secret) => lookup(hashSecret(secret))
}

export function createApiKeysService(deps: { db: Db }) {
  return {
    /** Creates a key. With an Idempotency-Key, a repeat of the request replays the first answer. */
    create: (
      idem: IdempotentRequest,
      actorKeyId: string | null,
      input: { name: string; role: ApiKeyOut['role']; org_id?: string },
    ) => runIdempotent(deps.db, idem, (tx) => createIn(tx, actorKeyId, input)),
    /** `create`'s effect in the caller's transaction (the CLI and test fixtures compose several). */
    createIn,

    async list() {
      return { items: (await repo.all(deps.db)).map(toApiKeyOut) }
    },

    /** Revokes at once: the next request with the key is a 401. Revoking a revoked key is a no-op. */
    async revoke(actorKeyId: string, id: string): Promise<void> {
      await inTransaction(deps.db, async (tx) => {
        const before = await repo.findById(tx, id)
        if (!before) throw notFound('API key')
        const after = await repo.revoke(tx, id)
        if (after) {
          await appendAudit(tx, {
            actorKeyId,
            action: 'api_key.revoked',
            entity: 'api_key',
            entityId: id,
            before: toApiKeyOut(before),
            after: toApiKeyOut(after),
          })
        }
      })
    },

    /** Makes sure an admin key with this secret exists (ADMIN_API_KEY at start-up); idempotent. */
    async ensureAdminKey(secret: string): Promise<void> {
      await inTransaction(deps.db, async (tx) => {
        const row = await repo.insertIfAbsent(tx, {
          name: 'bootstrap admin (ADMIN_API_KEY)',
          role: 'admin',
          keyHash: hashSecret(secret),
        })
        if (row) {
          await appendAudit(tx, {
            actorKeyId: null,
            action: 'api_key.created',
            entity: 'api_key',
            entityId: row.id,
            after: toApiKeyOut(row),
          })
        }
      })
    },
  }
}
