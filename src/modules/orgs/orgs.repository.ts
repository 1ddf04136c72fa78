import { asc, eq, gt, inArray } from 'drizzle-orm'
import type { Executor } from '../../db/client.js'
import { orgs } from '../../db/schema.js'

export type OrgRow = typeof orgs.$inferSelect

export const orgsRepository = {
  async insert(ex: Executor, values: { name: string; kind: string }): Promise<OrgRow> {
    const [row] = await ex.insert(orgs).values(values).returning()
    return row!
  },
  async findById(ex: Executor, id: string): Promise<OrgRow | undefined> {
    const [row] = await ex.select().from(orgs).where(eq(orgs.id, id))
    return row
  },
  async findByName(ex: Executor, name: string): Promise<OrgRow | undefined> {
    const [row] = await ex.select().from(orgs).where(eq(orgs.name, name))
    return row
  },
  async update(
    ex: Executor,
    id: string,
    values: { name?: string; kind?: string },
  ): Promise<OrgRow | undefined> {
    const [row] = await ex.update(orgs).set(values).where(eq(orgs.id, id)).returning()
    return row
  },
  /** Names of the given orgs, by id. */
  async namesById(ex: Executor, ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map()
    const rows = await ex
      .select({ id: orgs.id, name: orgs.name })
      .from(orgs)
      .where(inArray(orgs.id, [...ids]))
    return new Map(rows.map((r) => [r.id, r.name]))
  },
  /** Ordered by name (unique), so the name is the keyset cursor. */
  async listAfter(ex: Executor, afterName: string | undefined, limit: number): Promise<OrgRow[]> {
    return ex
      .select()
      .from(orgs)
      .where(afterName === undefined ? undefined : gt(orgs.name, afterName))
      .orderBy(asc(orgs.name))
      .limit(limit)
  },
}
