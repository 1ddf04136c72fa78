import type { Db, Executor, Tx } from '../../db/client.js'
import { conflict } from '../../errors.js'
import { type EffectResult, type IdempotentRequest, runIdempotent } from '../../idempotency/idempotency.js'
import { appendAudit } from '../audit/index.js'
import { type RegionRow, regionsRepository as repo } from './regions.repository.js'
import type { RegionOut } from './regions.schemas.js'

function toRegionOut(row: RegionRow): RegionOut {
  return {
    code: row.code,
    name: row.name,
    prefecture: row.prefecture,
    province: row.province,
    program: row.program as RegionOut['program'],
  }
}

/** Registers a region and its audit row in `tx`; a taken code is a 409. */
async function createIn(tx: Tx, actorKeyId: string, input: RegionOut): Promise<EffectResult<RegionOut>> {
  const row = await repo.insert(tx, input)
  if (!row) throw conflict(`Region ${input.code} already exists.`)
  const region = toRegionOut(row)
  await appendAudit(tx, {
    actorKeyId,
    action: 'region.created',
    entity: 'region',
    entityId: region.code,
    after: region,
  })
  return { status: 201, body: region }
}

/** Every registered region, by code. */
export async function allRegions(ex: Executor): Promise<RegionOut[]> {
  return (await repo.all(ex)).map(toRegionOut)
}

export function createRegionsService(deps: { db: Db }) {
  return {
    async list() {
      return { items: await allRegions(deps.db) }
    },
    /** Registers a region. With an Idempotency-Key, a repeat of the request replays the first answer. */
    create: (idem: IdempotentRequest, actorKeyId: string, input: RegionOut) =>
      runIdempotent(deps.db, idem, (tx) => createIn(tx, actorKeyId, input)),
  }
}
