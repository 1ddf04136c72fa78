import { sql } from 'drizzle-orm'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { IDEMPOTENCY_RETENTION_DAYS, purgeExpiredIdempotencyKeys } from '../../src/idempotency/idempotency.js'
import { createKey, uniq } from '../factories.js'
import { buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const { app } = ctx
const db = ctx.database.db

/** The org name is derived from the key, so a second call is the same request (a replay). */
async function createOrgWithKey(auth: { authorization: string }, key: string) {
  return app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: { ...auth, 'idempotency-key': key },
    payload: { name: `org for ${key}`, kind: 'agency' },
  })
}

async function ageKey(key: string, days: number) {
  await db.execute(
    sql`update idempotency_keys set created_at = now() - make_interval(days => ${days}) where key = ${key}`,
  )
}

const storedKeys = async () =>
  (await queryRows<{ key: string }>(db, sql`select key from idempotency_keys order by key`)).map((r) => r.key)

t.test('keys are kept for the retention period and purged after it, in bounded batches', async (t) => {
  const admin = await createKey(ctx, 'admin')
  const keep = `keep-${uniq('org')}`
  const edge = `edge-${uniq('org')}`
  const old = [1, 2, 3].map((i) => `old-${i}-${uniq('org')}`)
  for (const k of [keep, edge, ...old]) t.equal((await createOrgWithKey(admin.auth, k)).statusCode, 201)
  await ageKey(edge, IDEMPOTENCY_RETENTION_DAYS)
  for (const k of old) await ageKey(k, IDEMPOTENCY_RETENTION_DAYS + 2)

  t.equal(await purgeExpiredIdempotencyKeys(db, 2), 2, 'one batch removes at most its size')
  t.equal(await purgeExpiredIdempotencyKeys(db, 2), 1, 'the next batch takes the rest')
  t.equal(await purgeExpiredIdempotencyKeys(db, 2), 0, 'nothing expired is left')
  t.same(
    await storedKeys(),
    [edge, keep].sort(),
    `a key ${IDEMPOTENCY_RETENTION_DAYS} days old is still kept`,
  )

  const replay = await createOrgWithKey(admin.auth, edge)
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true', 'a kept key still replays')
})
