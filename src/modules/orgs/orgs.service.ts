import { decodeCursor, encodeCursor } from '../../cursor.js'
import { type Db, type Executor, inTransaction, type Tx } from '../../db/client.js'
import { isUniqueViolation } from '../../db/errors.js'
import { AppError, notFound } from '../../errors.js'
import { type EffectResult, type IdempotentRequest, runIdempotent } from '../../idempotency/idempotency.js'
import { appendAudit } from '../audit/index.js'
import { type OrgRow, orgsRepository as repo } from './orgs.repository.js'
import type { OrgOut } from './orgs.schemas.js'

function toOrgOut(row: OrgRow): OrgOut {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as OrgOut['kind'],
    created_at: row.createdAt.toISOString(),
  }
}

/** Whether an org with this id exists. */
export async function orgExists(ex: Executor, id: string): Promise<boolean> {
  return (await repo.findById(ex, id)) !== undefined
}

/** Names of the given orgs, by id (unknown ids are left out). */
export function orgNames(ex: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  return repo.namesById(ex, ids)
}

/** The org name a list cursor continues after: comparable text (no NUL), at most a name's length. */
function afterNameOf(cursor: string): string {
  const [name] = decodeCursor(
    cursor,
    'orgs',
    1,
    ([p]) => typeof p === 'string' && p.length <= 200 && !p.includes('\0'),
  )
  return String(name)
}

const nameTaken = (name: string) =>
  new AppError('conflict', 409, `An organization named "${name}" already exists.`)

/** Maps the database's unique-name violation (a concurrent create) to the same 409 as the pre-check. */
async function guardName<T>(name: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (name !== undefined && isUniqueViolation(err, 'org_name')) {
      throw nameTaken(name)
    }
    throw err
  }
}

/** Creates an org and its audit row in `tx`; a taken name is a 409. */
async function createIn(
  tx: Tx,
  actorKeyId: string,
  input: { name: string; kind: string },
): Promise<EffectResult<OrgOut>> {
  if (await repo.findByName(tx, input.name)) throw nameTaken(input.name)
  const org = toOrgOut(await guardName(input.name, () => repo.insert(tx, input)))
  await appendAudit(tx, {
    actorKeyId,
    action: 'org.created',
    entity: 'org',
    entityId: org.id,
    after: org,
  })
  return { status: 201, body: org }
}

export function createOrgsService(deps: { db: Db }) {
  return {
    /** Creates an org. With an Idempotency-Key, a repeat of the request replays the first answer. */
    create: (idem: IdempotentRequest, actorKeyId: string, input: { name: string; kind: string }) =>
      runIdempotent(deps.db, idem, (tx) => createIn(tx, actorKeyId, input)),
    /** `create`'s effect in the caller's transaction (the CLI and test fixtures compose several). */
    createIn,

    async get(id: string): Promise<OrgOut> {
      const row = await repo.findById(deps.db, id)
      if (!row) throw notFound('Organization')
      return toOrgOut(row)
    },

    async update(actorKeyId: string, id: string, input: { name?: string; kind?: string }): Promise<OrgOut> {
      return guardName(input.name, () =>
        inTransaction(deps.db, async (tx) => {
          const before = await repo.findById(tx, id)
          if (!before) throw notFound('Organization')
          if (
            input.name !== undefined &&
            input.name !== before.name &&
            (await repo.findByName(tx, input.name))
          ) {
            throw nameTaken(input.name)
          }
          const after = toOrgOut((await repo.update(tx, id, input))!)
          await appendAudit(tx, {
            actorKeyId,
            action: 'org.updated',
            entity: 'org',
            entityId: id,
            before: toOrgOut(before),
            after,
          })
          return after
        }),
      )
    },

    async list(limit: number, cursor: string | undefined) {
      const after = cursor === undefined ? undefined : afterNameOf(cursor)
      const rows = await repo.listAfter(deps.db, after, limit + 1)
      const items = rows.slice(0, limit).map(toOrgOut)
      const next = rows.length > limit ? encodeCursor([items[items.length - 1]!.name], 'orgs') : null
      return { items, next_cursor: next }
    },
  }
}
