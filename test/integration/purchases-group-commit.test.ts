/**
 * Group commit of single-record creates: concurrent POST /v1/purchases share statements, and every request
 * still gets the answer it would get alone — its own record, replay, 400, 409 or 422 — with nothing
 * stored twice and nothing lost when a shared statement fails.
 */
import { sql } from 'drizzle-orm'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { idem, postPurchase } from '../api.js'
import { createOrgWithReporter, type Purchase, purchaseInput, uniq } from '../factories.js'
import { type Auth, assertProblem, buildTestApp, countRows } from '../helper.js'

const ctx = await buildTestApp(t)
const admin: Auth = ctx.adminAuth
const onPostgres = Boolean(process.env.DATABASE_URL)

t.test('a burst of mixed requests: each gets its own answer, as if sent one at a time', async (t) => {
  const { auth, orgId } = await createOrgWithReporter(ctx)
  const other = await createOrgWithReporter(ctx)
  const tag = uniq('burst')
  const stored = await postPurchase(ctx, auth, purchaseInput({ voucher_no: `${tag}-stored` }))
  t.equal(stored.statusCode, 201)
  const storedId = (stored.json() as Purchase).id

  const sharedKey = uniq('key')
  const sameBody = purchaseInput({ external_ref: `${tag}-replayed` })
  const reusedKey = uniq('key')
  type Case = { name: string; auth: Auth; body: Record<string, unknown>; headers?: Record<string, string> }
  const cases: Case[] = [
    ...Array.from({ length: 12 }, (_, i) => ({
      name: `plain ${i}`,
      auth: i % 2 ? auth : other.auth,
      body: purchaseInput({ external_ref: `${tag}-plain` }),
    })),
    ...Array.from({ length: 3 }, (_, i) => ({
      name: `same key, same body ${i}`,
      auth,
      body: sameBody,
      headers: idem(sharedKey),
    })),
    ...Array.from({ length: 2 }, (_, i) => ({
      name: `same key, other body ${i}`,
      auth,
      body: purchaseInput({ external_ref: `${tag}-reused` }),
      headers: idem(reusedKey),
    })),
    ...Array.from({ length: 3 }, (_, i) => ({
      name: `one voucher ${i}`,
      auth: i === 1 ? other.auth : auth,
      body: purchaseInput({ voucher_no: `${tag}-shared`, external_ref: `${tag}-voucher` }),
    })),
    { name: 'stored voucher', auth, body: purchaseInput({ voucher_no: `${tag}-stored` }) },
    { name: 'unknown region', auth, body: purchaseInput({ region_code: '110101' }) },
    { name: 'future date', auth, body: purchaseInput({ occurred_on: '2099-01-01' }) },
    {
      name: 'admin, unknown org',
      auth: admin,
      body: purchaseInput({ org_id: '00000000-0000-4000-8000-000000000000' }),
    },
    {
      name: 'admin, known org',
      auth: admin,
      body: purchaseInput({ org_id: orgId, external_ref: `${tag}-admin` }),
    },
  ]
  const responses = await Promise.all(cases.map((c) => postPurchase(ctx, c.auth, c.body, c.headers)))
  const by = (prefix: string) => responses.filter((_, i) => cases[i]!.name.startsWith(prefix))

  for (const r of by('plain')) t.equal(r.statusCode, 201, r.body)
  const plainIds = by('plain').map((r) => (r.json() as Purchase).id)
  t.equal(new Set(plainIds).size, 12, 'twelve distinct records')
  t.equal(await countRows(ctx, sql`external_ref = ${`${tag}-plain`}`), 12)

  const replayed = by('same key, same body')
  t.same(
    replayed.map((r) => r.statusCode),
    [201, 201, 201],
  )
  t.equal(new Set(replayed.map((r) => (r.json() as Purchase).id)).size, 1, 'one record, replayed')
  t.equal(replayed.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 2, 'two replays')
  t.equal(await countRows(ctx, sql`external_ref = ${`${tag}-replayed`}`), 1)

  const reused = by('same key, other body')
    .map((r) => r.statusCode)
    .sort()
  t.same(reused, [201, 422], 'the first stores, the second reuses the key for another body')
  t.equal(await countRows(ctx, sql`external_ref = ${`${tag}-reused`}`), 1)

  const voucher = by('one voucher')
  t.same(voucher.map((r) => r.statusCode).sort(), [201, 409, 409])
  const winner = (voucher.find((r) => r.statusCode === 201)!.json() as Purchase).id
  for (const r of voucher.filter((r) => r.statusCode === 409)) {
    t.equal(assertProblem(t, r, 409, 'duplicate_voucher').existing_id, winner, 'names the winner')
  }
  t.equal(await countRows(ctx, sql`voucher_no = ${`${tag}-shared`}`), 1)

  t.equal(assertProblem(t, by('stored voucher')[0]!, 409, 'duplicate_voucher').existing_id, storedId)
  t.same(
    assertProblem(t, by('unknown region')[0]!, 400, 'validation_failed').errors?.map((e) => e.path),
    ['/region_code'],
  )
  t.same(
    assertProblem(t, by('future date')[0]!, 400, 'validation_failed').errors?.map((e) => e.path),
    ['/occurred_on'],
  )
  t.same(
    assertProblem(t, by('admin, unknown org')[0]!, 400, 'validation_failed').errors?.map((e) => e.path),
    ['/org_id'],
  )
  t.equal(by('admin, known org')[0]!.statusCode, 201)

  // Exactly the records answered 201 exist, each with one audit row; a request's record belongs to its org.
  const created = responses.filter((r) => r.statusCode === 201 && r.headers['idempotent-replayed'] !== 'true')
  const ids = created.map((r) => (r.json() as Purchase).id)
  t.equal(ids.length, 12 + 1 + 1 + 1 + 1)
  t.equal(await countRows(ctx, sql`id = any(${sql.param(ids)}::uuid[])`), ids.length)
  const [audit] = await queryRows<{ n: number }>(
    ctx.database.db,
    sql`select count(*)::int as n from audit_log where action = 'purchase.created' and entity_id = any(${sql.param(ids)}::text[])`,
  )
  t.equal(audit!.n, ids.length, 'one audit row per record')
  for (const [i, r] of responses.entries()) {
    if (r.statusCode !== 201) continue
    const c = cases[i]!
    const expectedOrg = c.auth === other.auth ? other.orgId : orgId
    t.equal((r.json() as Purchase).org_id, expectedOrg, `${c.name}: its own org`)
  }

  // The burst really shared statements: records written by one statement share its transaction's now().
  const [stamps] = await queryRows<{ n: number }>(
    ctx.database.db,
    sql`select count(distinct created_at)::int as n from purchases where id = any(${sql.param(ids)}::uuid[])`,
  )
  t.ok(stamps!.n < ids.length, `${ids.length} records in ${stamps!.n} statements`)
})

t.test('concurrent key lookups share a query; each request is answered for its own key', async (t) => {
  const a = await createOrgWithReporter(ctx)
  const b = await createOrgWithReporter(ctx)
  const revoked = await createOrgWithReporter(ctx)
  const gone = await ctx.app.inject({
    method: 'DELETE',
    url: `/v1/api-keys/${revoked.keyId}`,
    headers: admin,
  })
  t.equal(gone.statusCode, 204)
  const keys: { name: string; auth: Auth; status: number; orgId?: string }[] = [
    ...Array.from({ length: 6 }, () => ({ name: 'a', auth: a.auth, status: 201, orgId: a.orgId })),
    ...Array.from({ length: 6 }, () => ({ name: 'b', auth: b.auth, status: 201, orgId: b.orgId })),
    { name: 'revoked', auth: revoked.auth, status: 401 },
    { name: 'unknown', auth: { authorization: `Bearer ${uniq('no-such-key')}` }, status: 401 },
  ]
  const responses = await Promise.all(keys.map((k) => postPurchase(ctx, k.auth, purchaseInput())))
  responses.forEach((r, i) => {
    const k = keys[i]!
    t.equal(r.statusCode, k.status, `${k.name}: ${r.body.slice(0, 120)}`)
    if (k.orgId) t.equal((r.json() as Purchase).org_id, k.orgId, `${k.name}: recorded for its own org`)
  })
  t.equal(await countRows(ctx, sql`org_id = ${revoked.orgId}`), 0, 'nothing for the revoked key')
})

t.test(
  'a shared statement that loses a voucher race stores nothing; each of its requests is then run alone',
  { skip: !onPostgres && 'needs a second connection to hold a transaction open (PostgreSQL)' },
  async (t) => {
    const { auth, orgId, keyId } = await createOrgWithReporter(ctx)
    const tag = uniq('race')
    const holder = await ctx.database.pool!.connect()
    try {
      // Another writer has taken voucher `${tag}-x` and not committed yet. The requests, arriving together,
      // share one statement, which checks before the holder commits (no clash seen), then waits on the
      // voucher's unique index entry and fails when the holder commits: none of its records may be stored,
      // and each request must then get its own answer.
      await holder.query('begin')
      const { rows } = await holder.query<{ id: string }>(
        `insert into purchases (channel, amount_fen, occurred_on, year, org_id, region_code, supplier, voucher_no,
                                created_by)
         values ('wholesale', 100, '2024-05-20', 2024, $1, '530502', 'holder', $2, $3) returning id`,
        [orgId, `${tag}-x`, keyId],
      )
      const bodies = Array.from({ length: 12 }, (_, i) =>
        purchaseInput({ voucher_no: i === 11 ? `${tag}-x` : `${tag}-${i}`, external_ref: tag }),
      )
      // Promise.all starts the injected requests now (light-my-request dispatches on the first then()).
      const pending = Promise.all(
        bodies.map((body, i) => postPurchase(ctx, auth, body, idem(`${tag}-k${i}`))),
      )
      for (let waited = 0; ; waited += 20) {
        // Asked on another connection: inside the holder's transaction pg_stat_activity would not change.
        const { rows: w } = await ctx.database.pool!.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`,
        )
        if (w[0]!.n >= 1) break
        if (waited > 10_000) throw new Error('the service statements never waited on the held lock')
        await new Promise((r) => setTimeout(r, 20))
      }
      await new Promise((r) => setTimeout(r, 300)) // every request has reached a statement or the queue
      await holder.query('commit')
      const responses = await pending
      const statuses = responses.map((r) => r.statusCode)
      t.same(statuses.slice(0, 11), Array(11).fill(201), `statuses ${statuses.join(',')}`)
      t.equal(assertProblem(t, responses[11]!, 409, 'duplicate_voucher').existing_id, rows[0]!.id)
      t.equal(await countRows(ctx, sql`external_ref = ${tag}`), 11, 'every other request stored, once')
      t.equal(await countRows(ctx, sql`voucher_no = ${`${tag}-x`}`), 1)
      // The loser's key was not bound: the same key with a fresh voucher stores.
      const retry = await postPurchase(
        ctx,
        auth,
        purchaseInput({ voucher_no: `${tag}-y` }),
        idem(`${tag}-k11`),
      )
      t.equal(retry.statusCode, 201, retry.body)
    } finally {
      await holder.query('rollback').catch(() => {})
      holder.release()
    }
  },
)
