import { asc, eq } from 'drizzle-orm'
import type { Executor } from '../../db/client.js'
import { regions } from '../../db/schema.js'

export type RegionRow = typeof regions.$inferSelect

export const regionsRepository = {
  async all(ex: Executor): Promise<RegionRow[]> {
    return ex.select().from(regions).orderBy(asc(regions.code))
  },
  async findByCode(ex: Executor, code: string): Promise<RegionRow | undefined> {
    const [row] = await ex.select().from(regions).where(eq(regions.code, code))
    return row
  },
  /** Inserts unless the code exists; returns undefined on a clash. */
  async insert(
    ex: Executor,
    values: Omit<typeof regions.$inferInsert, 'createdAt'>,
  ): Promise<RegionRow | undefined> {
    const [row] = await ex.insert(regions).values(values).onConflictDoNothing().returning()
    return row
  },
}
