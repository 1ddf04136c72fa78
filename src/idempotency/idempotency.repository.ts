import { and, eq, sql } from 'drizzle-orm'
import type { Db, Tx } from '../db/client.js'
import { idempotencyKeys } from '../db/schema.js'

const byKey = (apiKeyId: string, key: string) =>
  and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key))

export const idempotencyRepository = {
  /**
   * Inserts the key row; false when it exists. A concurrent request with the same key blocks on the
   * primary key until the first commits (then this is false) or rolls back (then this inserts).
   */
  async claim(tx: Tx, values: { apiKeyId: string; key: string; fingerprint: string }): Promise<boolean> {
    const inserted = await tx
      .insert(idempotencyKeys)
      .values(values)
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key })
    return inserted.length > 0
  },
  async find(tx: Tx, apiKeyId: string, key: string) {
    const [stored] = await tx.select().from(idempotencyKeys).where(byKey(apiKeyId, key))
    return stored
  },
  async saveResponse(tx: Tx, apiKeyId: string, key: string, status: number, body: unknown): Promise<void> {
    await tx
      .update(idempotencyKeys)
      .set({ responseStatus: status, responseBody: body as object })
      .where(byKey(apiKeyId, key))
  },
  /**
   * Deletes keys older than `days`, a bounded batch at a time; SKIP LOCKED so it never waits on, or
   * blocks, a write. Returns how many rows went.
   */
  async deleteOlderThan(db: Db, days: number, batch: number): Promise<number> {
    const res = (await db.execute(sql`
      delete from idempotency_keys where (api_key_id, key) in (
        select api_key_id, key from idempotency_keys
         where created_at < now() - make_interval(days => ${days})
         limit ${batch} for update skip locked)`)) as unknown as { rowCount?: number; affectedRows?: number }
    return res.rowCount ?? res.affectedRows ?? 0
  },
}
