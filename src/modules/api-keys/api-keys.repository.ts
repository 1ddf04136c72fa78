import { and, asc, eq, isNull } from 'drizzle-orm'
import type { Executor } from '../../db/client.js'
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
  async findById(ex: Executor, id: string) {
    const [row] = await ex.select().from(apiKeys).where(eq(apiKeys.id, id))
    return row
  },
}
