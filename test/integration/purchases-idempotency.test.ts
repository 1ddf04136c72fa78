/** Purchases: Idempotency-Key replay and scoping, concurrent duplicates, and the voucher race. */
import { sql } from 'drizzle-orm'
import t from 'tap'
import { getPurchase, idem, postBatch, postPurchase, postVoid } from '../api.js'
import { createKey, createOrgWithReporter, type Purchase, purchaseInput, uniq } from '../factories.js'
import { type Auth, assertProblem, buildTestApp, countRows } from '../helper.js'

const ctx = await buildTestApp(t)
const admin: Auth = ctx.adminAuth
const byRef = (ref: string) => countRows(ctx, sql`external_ref = ${ref}`)

t.test('same key, same body → the first response replayed, one record', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const key = uniq('key')
  const body = purchaseInput({ external_ref: uniq('ref') })
  const first = await postPurchase(ctx, auth, body, idem(key))
  t.equal(first.statusCode, 201, first.body)
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first is not a replay')
  for (let i = 0; i < 3; i++) {
    const again = await postPurchase(ctx, auth, body, idem(key))
    t.equal(again.statusCode, 201)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.same(again.json(), first.json(), 'same body')
  }
  t.equal(await byRef(String(body.external_ref)), 1, 'one record')
  // A replay is a replay even after the record changed: the first response, not the current state.
  const id = (first.json() as Purchase).id
  t.equal((await postVoid(ctx, auth, id)).statusCode, 200)
  const late = await postPurchase(ctx, auth, body, idem(key))
  t.equal(late.statusCode, 201)
  t.same(late.json(), first.json())
  t.equal(await byRef(String(body.external_ref)), 1, 'still one record')
})

t.test('same key, different body or path → 422 idempotency_key_reused', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const key = uniq('key')
  const body = purchaseInput()
  t.equal((await postPurchase(ctx, auth, body, idem(key))).statusCode, 201)
  assertProblem(
    t,
    await postPurchase(ctx, auth, { ...body, amount: '1.00' }, idem(key)),
    422,
    'idempotency_key_reused',
  )
  assertProblem(t, await postBatch(ctx, auth, [body], { headers: idem(key) }), 422, 'idempotency_key_reused')
  assertProblem(
    t,
    await postPurchase(ctx, auth, { ...body, note: 'added' }, idem(key)),
    422,
    'idempotency_key_reused',
  )
})

t.test('bodies are compared as parsed JSON: key order and white space do not matter', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const key = uniq('key')
  const voucher = uniq('v')
  const raw1 = `{"channel":"wholesale","amount":"10.00","occurred_on":"2024-05-20","region_code":"530502","supplier":"某公司","voucher_no":"${voucher}"}`
  const raw2 = `{
    "voucher_no" : "${voucher}",  "supplier": "某公司",
    "region_code":"530502", "occurred_on":"2024-05-20", "amount":"10.00", "channel":"wholesale" }`
  const send = (payload: string) =>
    ctx.app.inject({
      method: 'POST',
      url: '/v1/purchases',
      headers: { ...auth, ...idem(key), 'content-type': 'application/json' },
      payload,
    })
  const first = await send(raw1)
  t.equal(first.statusCode, 201, first.body)
  const second = await send(raw2)
  t.equal(second.statusCode, 201, 'not a 409 duplicate_voucher: a replay')
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.same(second.json(), first.json())
  t.equal(await countRows(ctx, sql`voucher_no = ${voucher}`), 1)
})

t.test('a failed request does not bind its key: a corrected retry is processed afresh', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const key = uniq('key')
  const body = purchaseInput({ external_ref: uniq('ref') })
  assertProblem(
    t,
    await postPurchase(ctx, auth, { ...body, amount: '1.005' }, idem(key)),
    400,
    'validation_failed',
    ['/amount'],
  )
  assertProblem(
    t,
    await postPurchase(ctx, auth, { ...body, region_code: '999999' }, idem(key)),
    400,
    'validation_failed',
    ['/region_code'],
  )
  const ok = await postPurchase(ctx, auth, body, idem(key))
  t.equal(ok.statusCode, 201, ok.body)
  t.equal(ok.headers['idempotent-replayed'], undefined, 'processed, not replayed')
  t.equal(await byRef(String(body.external_ref)), 1)

  // A 409 does not bind either: after the clashing record is voided, the same key and body succeed.
  const other = (await postPurchase(ctx, auth, purchaseInput())).json() as Purchase
  const key2 = uniq('key')
  const clash = purchaseInput({ voucher_no: other.voucher_no })
  assertProblem(t, await postPurchase(ctx, auth, clash, idem(key2)), 409, 'duplicate_voucher')
  t.equal((await postVoid(ctx, auth, other.id)).statusCode, 200)
  const retried = await postPurchase(ctx, auth, clash, idem(key2))
  t.equal(retried.statusCode, 201, retried.body)
  t.equal(retried.headers['idempotent-replayed'], undefined)
})

t.test('keys are scoped to the API key that sent them', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const admin2 = (await createKey(ctx, 'admin')).auth
  const key = uniq('shared-key')
  const body = purchaseInput({ org_id: org.orgId, voucher_no: null, external_ref: uniq('ref') })
  const r1 = await postPurchase(ctx, admin, body, idem(key))
  const r2 = await postPurchase(ctx, admin2, body, idem(key))
  t.equal(r1.statusCode, 201)
  t.equal(r2.statusCode, 201)
  t.equal(r2.headers['idempotent-replayed'], undefined, 'not a replay of the other key’s request')
  t.not((r1.json() as Purchase).id, (r2.json() as Purchase).id)
  t.equal(await byRef(String(body.external_ref)), 2, 'two records')
  // And a reporter using the same string with another body is not a 422.
  const r3 = await postPurchase(ctx, org.auth, purchaseInput(), idem(key))
  t.equal(r3.statusCode, 201)
})

t.test('20 concurrent identical requests with one key → one record, all 201 with the same id', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const key = uniq('key')
  const body = purchaseInput({ external_ref: uniq('ref') })
  const responses = await Promise.all(
    Array.from({ length: 20 }, () => postPurchase(ctx, auth, body, idem(key))),
  )
  const statuses = responses.map((r) => r.statusCode)
  t.same(statuses, Array(20).fill(201), `statuses ${statuses.join(',')}`)
  const ids = new Set(responses.map((r) => (r.json() as Purchase).id))
  t.equal(ids.size, 1, 'the same id everywhere')
  t.equal(responses.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 19, '19 replays')
  t.equal(await byRef(String(body.external_ref)), 1, 'exactly one record')
})

t.test('concurrent identical batches with one key → one set of records', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const key = uniq('key')
  const ref = uniq('ref')
  const items = Array.from({ length: 50 }, () => purchaseInput({ external_ref: ref }))
  const responses = await Promise.all(
    Array.from({ length: 8 }, () => postBatch(ctx, auth, items, { headers: idem(key) })),
  )
  t.same(
    responses.map((r) => r.statusCode),
    Array(8).fill(201),
  )
  const first = responses[0]!.json()
  for (const r of responses) t.same(r.json(), first)
  t.equal(await byRef(ref), 50)
})

t.test('void with a key: a retry replays the 200 instead of a 409', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const p = (await postPurchase(ctx, auth, purchaseInput())).json() as Purchase
  const key = uniq('key')
  const first = await postVoid(ctx, auth, p.id, 'wrong amount', idem(key))
  t.equal(first.statusCode, 200)
  const again = await postVoid(ctx, auth, p.id, 'wrong amount', idem(key))
  t.equal(again.statusCode, 200)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), first.json())
  // Without the key, or with the same key and another reason: not a replay.
  assertProblem(t, await postVoid(ctx, auth, p.id, 'wrong amount'), 409, 'conflict')
  assertProblem(t, await postVoid(ctx, auth, p.id, 'other', idem(key)), 422, 'idempotency_key_reused')
  // The same key on another record's void is another request.
  const q = (await postPurchase(ctx, auth, purchaseInput())).json() as Purchase
  assertProblem(t, await postVoid(ctx, auth, q.id, 'wrong amount', idem(key)), 422, 'idempotency_key_reused')
})

t.test('dry runs and real runs of a batch are different requests', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const key = uniq('key')
  const items = [purchaseInput(), purchaseInput()]
  const dry = await postBatch(ctx, auth, items, { dryRun: true, headers: idem(key) })
  t.equal(dry.statusCode, 200)
  assertProblem(t, await postBatch(ctx, auth, items, { headers: idem(key) }), 422, 'idempotency_key_reused')
  const key2 = uniq('key')
  t.equal((await postBatch(ctx, auth, items, { headers: idem(key2) })).statusCode, 201)
})

t.test('invalid Idempotency-Key → 400', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const ref = uniq('ref')
  for (const key of ['clé', 'x'.repeat(256), '']) {
    const res = await postPurchase(ctx, auth, purchaseInput({ external_ref: ref }), idem(key))
    assertProblem(t, res, 400, 'validation_failed', ['/headers/idempotency-key'])
  }
  const nonAscii = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases',
    headers: { ...auth, 'idempotency-key': Buffer.from('键', 'utf8').toString('latin1') },
    payload: purchaseInput({ external_ref: ref }),
  })
  assertProblem(t, nonAscii, 400, 'validation_failed', ['/headers/idempotency-key'])
  t.equal(await byRef(ref), 0, 'nothing stored')
  const edge = await postPurchase(
    ctx,
    auth,
    purchaseInput({ external_ref: ref }),
    idem(`~ ${'k'.repeat(253)}`),
  )
  t.equal(edge.statusCode, 201, '255 printable ASCII characters (space included) are fine')
  const batch = await postBatch(ctx, auth, [purchaseInput()], { headers: idem('x'.repeat(256)) })
  assertProblem(t, batch, 400, 'validation_failed', ['/headers/idempotency-key'])
  const p = edge.json() as Purchase
  assertProblem(t, await postVoid(ctx, auth, p.id, 'r', idem('x'.repeat(256))), 400, 'validation_failed', [
    '/headers/idempotency-key',
  ])
  t.equal(((await getPurchase(ctx, auth, p.id)).json() as Purchase).status, 'active')
})

t.test(
  'voucher race: 10 concurrent posts of one voucher → one 201, nine 409 duplicate_voucher',
  async (t) => {
    const orgs = await Promise.all([createOrgWithReporter(ctx), createOrgWithReporter(ctx)])
    const voucher = uniq('race')
    const channels = ['wholesale', 'market_sales', 'enterprise', 'canteen', 'union_welfare']
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        postPurchase(
          ctx,
          orgs[i % 2]!.auth,
          purchaseInput({ voucher_no: voucher, channel: channels[i % 5] }),
          idem(uniq('key')),
        ),
      ),
    )
    const statuses = responses.map((r) => r.statusCode).sort()
    t.same(statuses, [201, ...Array(9).fill(409)], `statuses ${statuses.join(',')}`)
    const winner = responses.find((r) => r.statusCode === 201)!.json() as Purchase
    for (const r of responses.filter((r) => r.statusCode === 409)) {
      const body = assertProblem(t, r, 409, 'duplicate_voucher')
      if (body.existing_id !== undefined) t.equal(body.existing_id, winner.id, 'names the winner')
    }
    t.equal(await countRows(ctx, sql`voucher_no = ${voucher}`), 1, 'one record holds the voucher')
    // The losers' keys were not bound: once the winner is voided, a loser's retry succeeds.
    t.equal((await postVoid(ctx, admin, winner.id)).statusCode, 200)
    const loserKey = uniq('key')
    t.equal(
      (await postPurchase(ctx, orgs[0].auth, purchaseInput({ voucher_no: voucher }), idem(loserKey)))
        .statusCode,
      201,
    )
  },
)

t.test('voucher race between batches: the whole losing batch is refused', async (t) => {
  const { auth, orgId } = await createOrgWithReporter(ctx)
  const shared = uniq('race')
  const batches = Array.from({ length: 5 }, (_, b) =>
    Array.from({ length: 20 }, (_, i) => purchaseInput({ voucher_no: i === 10 + b ? shared : uniq('v') })),
  )
  const responses = await Promise.all(batches.map((items) => postBatch(ctx, auth, items)))
  const statuses = responses.map((r) => r.statusCode).sort()
  t.same(statuses, [201, 409, 409, 409, 409], `statuses ${statuses.join(',')}`)
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 20, 'exactly one batch stored')
  t.equal(await countRows(ctx, sql`voucher_no = ${shared}`), 1)
})
