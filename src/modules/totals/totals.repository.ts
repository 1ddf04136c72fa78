import { sql } from 'drizzle-orm'
import type { Read } from '../../db/read.js'

/** One row when the org exists (or none is asked about), none otherwise: the org check of a batch. */
export function orgCheck(orgId: string | undefined): Read<{ ok: true }> {
  return {
    sql: orgId === undefined ? sql`select 1 as ok` : sql`select 1 as ok from orgs where id = ${orgId}`,
    row: () => ({ ok: true }),
  }
}

export interface RegionName {
  code: string
  name: string
}

/** Every registered region's code and name (sorted by the caller: a batch's JSON keeps no order). */
export function regionNames(): Read<RegionName> {
  return {
    sql: sql`select code, name from regions`,
    row: (r) => ({ code: String(r.code), name: String(r.name) }),
  }
}

/** No rows: the slot of a batch that a request does not need. */
export function noRegionNames(): Read<RegionName> {
  return { sql: sql`select 1 where false`, row: () => ({ code: '', name: '' }) }
}
