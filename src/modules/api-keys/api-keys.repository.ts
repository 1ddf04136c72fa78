import { and, asc, eq, isNull, sql } from 'drizzle-orm'
import type { Principal } from '../../auth/principal.js'
import { type Executor, queryPrepared } from '../../db/client.js'
import { apiKeys } from '../../db/schema.js'

export type ApiKeyRow = typeof apiKeys.$inferSelect

export const apiKeysRepository = {
  async insert(ex: Executor, values: { name: string; role: string; orgId: string | null; keyHash: string }) {
    const [row] = await ex.insert(apiKeys).values(values).returning()
    return row!
  },
  /** Inserts unless a key with this hash exists (bootstrap of ADMIN_API_KEY); undefined when it existed. */
  async insertIfAbsent(ex: Executor, values: { name: string; role: string; keyHash: string }) {
    const [row] = await ex.insert(apiKeys).values(values).onConflictDoNothing().returning()
    return row
  },
  async findByHash(ex: Executor, keyHash: string) {
    const [row] = await ex.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash))
    return row
  },
  async all(ex: Executor): Promise<ApiKeyRow[]> {
    return ex.select().from(apiKeys).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
  },
  async revoke(ex: Executor, id: string): Promise<ApiKeyRow | undefined> {
    const [row] = await ex
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning()
    return row
  },
  /**
   * The principals of the unrevoked keys with these secret hashes: an indexed equality on a digest, so the
   * time taken says nothing about how much of a guessed secret was right. Prepared (the hot path of every
   * request); one hash is a plain equality, the cheapest lookup, several one `= any(…)`.
   */
  async principalsByHash(ex: Executor, hashes: readonly string[]): Promise<(Principal & { hash: string })[]> {
    const match =
      hashes.length === 1 ? sql`key_hash = ${hashes[0]}` : sql`key_hash = any(${sql.param(hashes)}::text[])`
    return queryPrepared<Principal & { hash: string }>(
      ex,
      sql`select key_hash as hash, id as "keyId", role, org_id as "orgId" from api_keys
           where ${match} and revoked_at is null`,
    )
  },
  async findById(ex: Executor, id: string) {
    const [row] = await ex.select().from(apiKeys).where(eq(apiKeys.id, id))
    return row
  },
}
