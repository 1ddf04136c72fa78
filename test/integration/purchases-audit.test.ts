/** Purchases: one audit row per effect, written in the same transaction; failed writes leave none. */
import { sql } from 'drizzle-orm'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { getPurchase, postBatch, postPurchase, postVoid } from '../api.js'
import { createOrgWithReporter, type Purchase, purchaseInput, uniq } from '../factories.js'
import { type Auth, assertProblem, auditRows, buildTestApp, countRows } from '../helper.js'

const ctx = await buildTestApp(t)
const admin: Auth = ctx.adminAuth

const auditCount = () => countRows(ctx, sql`true`, 'audit_log')

t.test('create: exactly one purchase.created row with the record as `after`', async (t) => {
  const { auth, keyId } = await createOrgWithReporter(ctx)
  const res = await postPurchase(ctx, auth, purchaseInput({ note: '审计' }))
  t.equal(res.statusCode, 201)
  const p = res.json() as Purchase
  const rows = await auditRows(ctx, sql`entity_id = ${p.id}`)
  t.equal(rows.length, 1, 'one row')
  const [row] = rows
  t.equal(row!.action, 'purchase.created')
  t.equal(row!.entity, 'purchase')
  t.equal(row!.actor_key_id, keyId, 'the key that wrote')
  t.equal(row!.before, null)
  t.same(row!.after, p, 'after = the record as the API returned it')
})

t.test('batch: one purchase.created row per record', async (t) => {
  const { orgId } = await createOrgWithReporter(ctx)
  const items = Array.from({ length: 25 }, () => purchaseInput({ org_id: orgId }))
  const res = await postBatch(ctx, admin, items)
  t.equal(res.statusCode, 201)
  const records = (res.json() as { items: Purchase[] }).items
  const rows = await auditRows(
    ctx,
    sql`action = 'purchase.created' and entity_id in (select id::text from purchases where org_id = ${orgId})`,
  )
  t.equal(rows.length, 25)
  t.same(rows.map((r) => r.entity_id).sort(), records.map((p) => p.id).sort(), 'one row per record, no more')
  for (const r of rows)
    t.same(
      r.after,
      records.find((p) => p.id === r.entity_id),
    )
})

t.test('void: one purchase.voided row with before and after', async (t) => {
  const { auth, keyId } = await createOrgWithReporter(ctx)
  const p = (await postPurchase(ctx, auth, purchaseInput())).json() as Purchase
  const v = (await postVoid(ctx, auth, p.id, 'duplicate entry')).json() as Purchase
  const rows = await auditRows(ctx, sql`entity_id = ${p.id}`)
  t.same(
    rows.map((r) => r.action),
    ['purchase.created', 'purchase.voided'],
  )
  const voided = rows[1]!
  t.equal(voided.actor_key_id, keyId)
  t.same(voided.before, p, 'before = the active record')
  t.same(voided.after, v, 'after = the voided record')
  t.same(voided.after, (await getPurchase(ctx, auth, p.id)).json())
  // A second void fails and writes nothing.
  assertProblem(t, await postVoid(ctx, auth, p.id), 409, 'conflict')
  t.equal((await auditRows(ctx, sql`entity_id = ${p.id}`)).length, 2)
})

t.test('failed and non-effect requests write no audit rows', async (t) => {
  const { auth, orgId } = await createOrgWithReporter(ctx)
  const other = await createOrgWithReporter(ctx)
  const stored = (await postPurchase(ctx, auth, purchaseInput())).json() as Purchase
  const before = await auditCount()
  // 400 (schema and domain), 409 (voucher clash with a stored record and inside the batch), 403, dry run.
  const bad = Array.from({ length: 10 }, () => purchaseInput())
  bad[3] = purchaseInput({ amount: '0' })
  t.equal((await postBatch(ctx, auth, bad)).statusCode, 400)
  const domain = Array.from({ length: 10 }, () => purchaseInput())
  domain[7] = purchaseInput({ region_code: '999999' })
  t.equal((await postBatch(ctx, auth, domain)).statusCode, 400)
  const clash = Array.from({ length: 10 }, () => purchaseInput())
  clash[9] = purchaseInput({ voucher_no: stored.voucher_no })
  t.equal((await postBatch(ctx, auth, clash)).statusCode, 409)
  const inside = uniq('dup')
  t.equal(
    (
      await postBatch(ctx, auth, [
        purchaseInput({ voucher_no: inside }),
        purchaseInput({ voucher_no: inside }),
      ])
    ).statusCode,
    409,
  )
  t.equal((await postPurchase(ctx, auth, purchaseInput({ org_id: other.orgId }))).statusCode, 403)
  t.equal((await postBatch(ctx, auth, [purchaseInput(), purchaseInput()], { dryRun: true })).statusCode, 200)
  t.equal((await postVoid(ctx, other.auth, stored.id)).statusCode, 404)
  t.equal(await auditCount(), before, 'no audit rows written')
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 1, 'and no records')
})

t.test('an idempotent replay writes no second audit row', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const key = uniq('key')
  const body = purchaseInput()
  const first = (await postPurchase(ctx, auth, body, { 'idempotency-key': key })).json() as Purchase
  const before = await auditCount()
  for (let i = 0; i < 3; i++) await postPurchase(ctx, auth, body, { 'idempotency-key': key })
  t.equal(await auditCount(), before)
  t.equal((await auditRows(ctx, sql`entity_id = ${first.id}`)).length, 1)
})

t.test('a voucher race leaves exactly one audit row for the voucher', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const voucher = uniq('race')
  const responses = await Promise.all(
    Array.from({ length: 8 }, () =>
      postBatch(ctx, auth, [purchaseInput(), purchaseInput({ voucher_no: voucher }), purchaseInput()]),
    ),
  )
  t.equal(responses.filter((r) => r.statusCode === 201).length, 1, 'one batch wins')
  const rows = await auditRows(ctx, sql`action = 'purchase.created' and after->>'voucher_no' = ${voucher}`)
  t.equal(rows.length, 1, 'one audit row for the voucher')
  const winner = (responses.find((r) => r.statusCode === 201)!.json() as { items: Purchase[] }).items
  for (const p of winner) t.equal((await auditRows(ctx, sql`entity_id = ${p.id}`)).length, 1)
})

t.test('across the whole file: audit rows match the stored records one to one', async (t) => {
  const [row] = await queryRows<{
    purchases: string
    created: string
    voided: string
    voided_rows: string
    orphans: string
  }>(
    ctx.database.db,
    sql`select (select count(*) from purchases)::text as purchases,
               (select count(*) from audit_log where action = 'purchase.created')::text as created,
               (select count(*) from purchases where status = 'voided')::text as voided,
               (select count(*) from audit_log where action = 'purchase.voided')::text as voided_rows,
               (select count(*) from audit_log a where a.entity = 'purchase'
                   and not exists (select 1 from purchases p where p.id::text = a.entity_id))::text as orphans`,
  )
  t.ok(Number(row!.purchases) > 0)
  t.equal(row!.created, row!.purchases, 'one purchase.created per record')
  t.equal(row!.voided_rows, row!.voided, 'one purchase.voided per voided record')
  t.equal(row!.orphans, '0', 'no audit row for a record that does not exist')
})

t.test('the audit log is append-only at the database level', async (t) => {
  await t.rejects(ctx.database.db.execute(sql`update audit_log set action = 'x'`), 'UPDATE rejected')
  await t.rejects(ctx.database.db.execute(sql`delete from audit_log`), 'DELETE rejected')
  await t.rejects(ctx.database.db.execute(sql`delete from purchases`), 'purchases are never deleted')
  t.ok((await auditCount()) > 0, 'rows still there')
})
