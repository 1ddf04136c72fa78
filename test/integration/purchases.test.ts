/** Purchases: the happy paths — create, get, list with every filter, cursor walks, void. */
import t from 'tap'
import { getPurchase, listAll, listPurchases, postBatch, postPurchase, postVoid } from '../api.js'
import {
  CHANNELS,
  createKey,
  createOrgWithReporter,
  type Purchase,
  purchaseInput,
  REGIONS,
  uniq,
  validCreditCode,
} from '../factories.js'
import { type Auth, assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const admin: Auth = ctx.adminAuth

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Sorts like the API: occurred_on descending, then id descending. */
const apiOrder = (a: Purchase, b: Purchase) =>
  a.occurred_on !== b.occurred_on
    ? a.occurred_on < b.occurred_on
      ? 1
      : -1
    : a.id < b.id
      ? 1
      : a.id > b.id
        ? -1
        : 0

t.test('create → 201 with every field; get returns the same record', async (t) => {
  const { auth, orgId, keyId } = await createOrgWithReporter(ctx)
  const credit = validCreditCode()
  const body = {
    channel: 'union_welfare',
    amount: '125000.5',
    occurred_on: '2024-02-29',
    region_code: '530521',
    supplier: '  施甸县某某合作社  ',
    supplier_credit_code: credit.toLowerCase(),
    product: '核桃 50 箱',
    voucher_no: uniq('inv'),
    external_ref: uniq('ext'),
    note: '工会慰问品',
  }
  const res = await postPurchase(ctx, auth, body)
  t.equal(res.statusCode, 201, res.body)
  t.match(String(res.headers['content-type']), /^application\/json/)
  const p = res.json() as Purchase
  t.match(p.id, UUID)
  t.same(
    {
      channel: p.channel,
      amount: p.amount,
      occurred_on: p.occurred_on,
      org_id: p.org_id,
      region_code: p.region_code,
      supplier: p.supplier,
      supplier_credit_code: p.supplier_credit_code,
      product: p.product,
      voucher_no: p.voucher_no,
      external_ref: p.external_ref,
      note: p.note,
      year: p.year,
      status: p.status,
      created_by: p.created_by,
      voided_at: p.voided_at,
      void_reason: p.void_reason,
    },
    {
      channel: 'union_welfare',
      amount: '125000.50',
      occurred_on: '2024-02-29',
      org_id: orgId,
      region_code: '530521',
      supplier: '施甸县某某合作社',
      supplier_credit_code: credit,
      product: '核桃 50 箱',
      voucher_no: body.voucher_no,
      external_ref: body.external_ref,
      note: '工会慰问品',
      year: 2024,
      status: 'active',
      created_by: keyId,
      voided_at: null,
      void_reason: null,
    },
  )
  t.match(p.created_at, RFC3339)
  t.ok(Math.abs(Date.parse(p.created_at) - Date.now()) < 60_000, 'created_at is now')
  t.same(
    Object.keys(p).sort(),
    [
      'amount',
      'channel',
      'created_at',
      'created_by',
      'external_ref',
      'id',
      'note',
      'occurred_on',
      'org_id',
      'product',
      'region_code',
      'status',
      'supplier',
      'supplier_credit_code',
      'void_reason',
      'voided_at',
      'voucher_no',
      'year',
    ],
    'exactly the contract fields',
  )

  const got = await getPurchase(ctx, auth, p.id)
  t.equal(got.statusCode, 200)
  t.same(got.json(), p, 'GET returns the created record')
  const asAdmin = await getPurchase(ctx, admin, p.id)
  t.same(asAdmin.json(), p, 'admin reads it too')
  const finance = (await createKey(ctx, 'finance')).auth
  t.same((await getPurchase(ctx, finance, p.id)).json(), p, 'finance reads it too')
})

t.test('money strings are answered with exactly two fraction digits', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const cases: [string, string][] = [
    ['7', '7.00'],
    ['7.5', '7.50'],
    ['0.01', '0.01'],
    ['0.1', '0.10'],
    ['9999999999.99', '9999999999.99'],
    ['0000000001', '1.00'],
    ['1234567890.05', '1234567890.05'],
  ]
  for (const [input, output] of cases) {
    const res = await postPurchase(ctx, auth, purchaseInput({ amount: input }))
    t.equal(res.statusCode, 201, `${input}: ${res.body}`)
    t.equal((res.json() as Purchase).amount, output, `${input} → ${output}`)
  }
})

t.test(
  'optional fields may be omitted or null; admin gives org_id; reporter may name its own org',
  async (t) => {
    const { orgId, auth } = await createOrgWithReporter(ctx)
    const minimal = {
      channel: 'canteen',
      amount: '88.80',
      occurred_on: '2000-01-01',
      region_code: '653124',
      supplier: '泽普县供销社',
    }
    const r1 = await postPurchase(ctx, auth, minimal)
    t.equal(r1.statusCode, 201, r1.body)
    const p1 = r1.json() as Purchase
    t.equal(p1.year, 2000)
    t.equal(p1.org_id, orgId)
    for (const k of ['supplier_credit_code', 'product', 'voucher_no', 'external_ref', 'note'] as const) {
      t.equal(p1[k], null, `${k} null`)
    }
    const r2 = await postPurchase(ctx, auth, {
      ...minimal,
      org_id: orgId,
      product: null,
      voucher_no: null,
      note: null,
      supplier_credit_code: null,
    })
    t.equal(r2.statusCode, 201, `reporter naming its own org, explicit nulls: ${r2.body}`)
    const r3 = await postPurchase(ctx, admin, { ...minimal, org_id: orgId })
    t.equal(r3.statusCode, 201, r3.body)
    t.equal((r3.json() as Purchase).org_id, orgId)
    // Two records without a voucher never clash.
    t.not((r2.json() as Purchase).id, (r3.json() as Purchase).id)
  },
)

t.test('batch → 201 with the records in input order', async (t) => {
  const { orgId, auth } = await createOrgWithReporter(ctx)
  const items = CHANNELS.map((channel, i) =>
    purchaseInput({ channel, amount: `${i + 1}.0${i}`, region_code: REGIONS[i]! }),
  )
  const res = await postBatch(ctx, auth, items)
  t.equal(res.statusCode, 201, res.body)
  const out = (res.json() as { items: Purchase[] }).items
  t.equal(out.length, items.length)
  out.forEach((p, i) => {
    t.equal(p.channel, items[i]!.channel)
    t.equal(p.voucher_no, items[i]!.voucher_no)
    t.equal(p.amount, `${i + 1}.0${i}`)
    t.equal(p.org_id, orgId)
    t.equal(p.status, 'active')
  })
  t.equal(new Set(out.map((p) => p.id)).size, items.length, 'distinct ids')
  for (const p of out) t.same((await getPurchase(ctx, auth, p.id)).json(), p, 'stored as returned')
})

t.test('batch dry run → 200 {valid, count, amount}, nothing stored', async (t) => {
  const { orgId, auth } = await createOrgWithReporter(ctx)
  const items = [
    purchaseInput({ amount: '0.01' }),
    purchaseInput({ amount: '9999999999.99' }),
    purchaseInput({ amount: '100' }),
  ]
  const res = await postBatch(ctx, auth, items, { dryRun: true })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { valid: true, count: 3, amount: '10000000100.00' })
  t.same(await listAll(ctx, admin, { org_id: orgId, status: 'all' }), [], 'nothing stored')
  // The same vouchers are still free.
  const real = await postBatch(ctx, auth, items)
  t.equal(real.statusCode, 201, real.body)
  const explicitFalse = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases/batch?dry_run=false',
    headers: auth,
    payload: { items: [purchaseInput()] },
  })
  t.equal(explicitFalse.statusCode, 201, 'dry_run=false stores')
})

t.test('list: every filter, alone and combined', async (t) => {
  const a = await createOrgWithReporter(ctx)
  const b = await createOrgWithReporter(ctx)
  const specs: Record<string, unknown>[] = []
  const dates = [
    '2023-12-31',
    '2024-01-01',
    '2024-03-15',
    '2024-03-15',
    '2024-06-30',
    '2024-12-31',
    '2025-01-01',
  ]
  let n = 0
  for (const date of dates) {
    for (const org of [a, b]) {
      n++
      specs.push({
        org_id: org.orgId,
        channel: CHANNELS[n % CHANNELS.length],
        region_code: REGIONS[n % REGIONS.length],
        occurred_on: date,
        amount: `${n}.00`,
        external_ref: n % 3 === 0 ? 'shared-ref' : uniq('ref'),
      })
    }
  }
  const res = await postBatch(
    ctx,
    admin,
    specs.map((s) => purchaseInput(s)),
  )
  t.equal(res.statusCode, 201, res.body)
  const created = (res.json() as { items: Purchase[] }).items
  // Void a few so status filters have something to tell apart.
  const voided = new Set<string>()
  for (const p of created.filter((_, i) => i % 4 === 1)) {
    const v = await postVoid(ctx, admin, p.id, 'wrong channel')
    t.equal(v.statusCode, 200)
    voided.add(p.id)
  }
  const rows = created.map((p) =>
    voided.has(p.id) ? { ...p, status: 'voided' as const } : { ...p, status: 'active' as const },
  )
  const mine = (org: string) => rows.filter((p) => p.org_id === org)

  type Q = Record<string, string | number>
  const check = async (name: string, query: Q, expected: Purchase[]) => {
    const got = await listAll(ctx, admin, { ...query, limit: 4 })
    t.same(
      got.map((p) => p.id),
      [...expected].sort(apiOrder).map((p) => p.id),
      `${name}: ${JSON.stringify(query)}`,
    )
  }
  const A = a.orgId
  const active = (p: Purchase) => p.status === 'active'
  await check('org only (default status active)', { org_id: A }, mine(A).filter(active))
  await check('org b', { org_id: b.orgId }, mine(b.orgId).filter(active))
  await check(
    'year',
    { org_id: A, year: 2024 },
    mine(A).filter((p) => active(p) && p.year === 2024),
  )
  await check(
    'channel',
    { org_id: A, channel: 'enterprise', status: 'all' },
    mine(A).filter((p) => p.channel === 'enterprise'),
  )
  await check(
    'region',
    { org_id: A, region_code: REGIONS[3]!, status: 'all' },
    mine(A).filter((p) => p.region_code === REGIONS[3]),
  )
  await check(
    'status voided',
    { org_id: A, status: 'voided' },
    mine(A).filter((p) => p.status === 'voided'),
  )
  await check('status all', { org_id: A, status: 'all' }, mine(A))
  await check('status active', { org_id: A, status: 'active' }, mine(A).filter(active))
  await check(
    'from/to inclusive',
    { org_id: A, from: '2024-01-01', to: '2024-03-15', status: 'all' },
    mine(A).filter((p) => p.occurred_on >= '2024-01-01' && p.occurred_on <= '2024-03-15'),
  )
  await check(
    'from only',
    { org_id: A, from: '2024-06-30' },
    mine(A).filter((p) => active(p) && p.occurred_on >= '2024-06-30'),
  )
  await check(
    'to only',
    { org_id: A, to: '2024-01-01', status: 'all' },
    mine(A).filter((p) => p.occurred_on <= '2024-01-01'),
  )
  const someVoucher = mine(A).find(active)!
  await check('voucher_no', { voucher_no: someVoucher.voucher_no! }, [someVoucher])
  const aVoided = rows.find((p) => p.status === 'voided')!
  await check('voucher_no of a voided record, default status', { voucher_no: aVoided.voucher_no! }, [])
  await check(
    'voucher_no of a voided record, status all',
    { voucher_no: aVoided.voucher_no!, status: 'all' },
    [aVoided],
  )
  await check(
    'external_ref',
    { external_ref: 'shared-ref', status: 'all' },
    rows.filter((p) => p.external_ref === 'shared-ref'),
  )
  await check(
    'everything at once',
    {
      year: 2024,
      channel: rows[3]!.channel,
      org_id: rows[3]!.org_id,
      region_code: rows[3]!.region_code,
      status: 'all',
      from: rows[3]!.occurred_on,
      to: rows[3]!.occurred_on,
      voucher_no: rows[3]!.voucher_no!,
      external_ref: rows[3]!.external_ref!,
    },
    [rows[3]!],
  )
  await check('no match', { org_id: A, year: 2022 }, [])

  // Every item of a list page is the full record.
  const page = await listPurchases(ctx, admin, { org_id: A, status: 'all', limit: 500 })
  t.equal(page.statusCode, 200)
  const body = page.json() as { items: Purchase[]; next_cursor: string | null }
  t.equal(body.next_cursor, null, 'last page has next_cursor null')
  t.equal(body.items.length, mine(A).length)
  for (const p of body.items) t.same(p, (await getPurchase(ctx, admin, p.id)).json(), 'list item = GET')
})

t.test('list default limit is 50 and limit 500 is allowed', async (t) => {
  const { orgId, auth } = await createOrgWithReporter(ctx)
  const res = await postBatch(
    ctx,
    auth,
    Array.from({ length: 60 }, () => purchaseInput({ voucher_no: null })),
  )
  t.equal(res.statusCode, 201)
  const first = await listPurchases(ctx, admin, { org_id: orgId })
  const body = first.json() as { items: Purchase[]; next_cursor: string | null }
  t.equal(body.items.length, 50, 'default limit 50')
  t.type(body.next_cursor, 'string')
  const all = await listPurchases(ctx, admin, { org_id: orgId, limit: 500 })
  t.equal((all.json() as { items: Purchase[] }).items.length, 60)
  t.equal((all.json() as { next_cursor: string | null }).next_cursor, null)
  const exact = await listPurchases(ctx, admin, { org_id: orgId, limit: 60 })
  t.equal((exact.json() as { next_cursor: string | null }).next_cursor, null, 'no empty last page')
})

t.test('cursor walk with limit 7 while rows are inserted: each pre-existing row exactly once', async (t) => {
  const { orgId, auth } = await createOrgWithReporter(ctx)
  const dates = ['2024-01-10', '2024-02-10', '2024-03-10', '2024-04-10', '2024-05-10']
  const seed = await postBatch(
    ctx,
    auth,
    Array.from({ length: 31 }, (_, i) => purchaseInput({ occurred_on: dates[i % dates.length] })),
  )
  t.equal(seed.statusCode, 201, seed.body)
  const preExisting = new Set((seed.json() as { items: Purchase[] }).items.map((p) => p.id))

  const seen: Purchase[] = []
  let cursor: string | null = null
  let pages = 0
  let inserted = 0
  do {
    const query: Record<string, string | number> = { org_id: orgId, limit: 7 }
    if (cursor) query.cursor = cursor
    const res = await listPurchases(ctx, admin, query)
    t.equal(res.statusCode, 200, res.body)
    const page = res.json() as { items: Purchase[]; next_cursor: string | null }
    t.ok(page.items.length <= 7)
    seen.push(...page.items)
    cursor = page.next_cursor
    pages++
    // Between pages, new rows land before and after the cursor position (every date, plus a new newest one).
    const more = await postBatch(ctx, auth, [
      purchaseInput({ occurred_on: dates[pages % dates.length] }),
      purchaseInput({ occurred_on: dates[(pages + 2) % dates.length] }),
      purchaseInput({ occurred_on: '2024-06-01' }),
    ])
    t.equal(more.statusCode, 201)
    inserted += 3
  } while (cursor && pages < 100)
  t.equal(cursor, null, 'walk ended')
  const ids = seen.map((p) => p.id)
  t.equal(new Set(ids).size, ids.length, 'no row seen twice')
  for (const id of preExisting) if (!ids.includes(id)) t.fail(`pre-existing row ${id} skipped`)
  t.ok(preExisting.size <= ids.length, `saw ${ids.length} rows (${preExisting.size} pre-existing)`)
  for (let i = 1; i < seen.length; i++) {
    if (apiOrder(seen[i - 1]!, seen[i]!) >= 0) t.fail(`order broken at ${i}`)
  }
  t.ok(pages >= 5, `walked ${pages} pages`)
  t.ok(inserted > 0)
})

t.test('cursor misuse and limits → 400', async (t) => {
  const { orgId, auth } = await createOrgWithReporter(ctx)
  await postBatch(
    ctx,
    auth,
    Array.from({ length: 5 }, () => purchaseInput()),
  )
  const first = await listPurchases(ctx, admin, { org_id: orgId, limit: 2 })
  const cursor = (first.json() as { next_cursor: string }).next_cursor
  t.type(cursor, 'string')
  // Same filters, other limit: fine.
  const ok = await listPurchases(ctx, admin, { org_id: orgId, limit: 3, cursor })
  t.equal(ok.statusCode, 200, 'a cursor may be used with another limit')
  // The same filters in another order, or the default status spelled out, are the same filter set.
  const first2 = await listPurchases(ctx, admin, {
    year: 2024,
    org_id: orgId,
    channel: 'wholesale',
    limit: 2,
  })
  const cursor2 = (first2.json() as { next_cursor: string }).next_cursor
  t.type(cursor2, 'string')
  const reordered = await listPurchases(ctx, admin, {
    cursor: cursor2,
    limit: 2,
    channel: 'wholesale',
    status: 'active',
    org_id: orgId,
    year: 2024,
  })
  t.equal(reordered.statusCode, 200, `query parameter order does not matter: ${reordered.body}`)
  const others: Record<string, string | number>[] = [
    { org_id: orgId, limit: 2, cursor, channel: 'wholesale' },
    { org_id: orgId, limit: 2, cursor, status: 'all' },
    { org_id: orgId, limit: 2, cursor, year: 2024 },
    { limit: 2, cursor },
  ]
  for (const other of others) {
    assertProblem(t, await listPurchases(ctx, admin, other), 400, 'validation_failed', [
      '/querystring/cursor',
    ])
  }
  assertProblem(t, await listPurchases(ctx, admin, { cursor: 'not-a-cursor' }), 400, 'validation_failed', [
    '/querystring/cursor',
  ])
  assertProblem(
    t,
    await listPurchases(ctx, admin, { cursor: Buffer.from('{"p":[1]}').toString('base64url') }),
    400,
    'validation_failed',
    ['/querystring/cursor'],
  )
  // A forged cursor with the right filter digest but a bogus position is a 400, never a database error.
  const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { p: unknown[]; f: string }
  for (const p of [
    ['2024-13-45', decoded.p[1]],
    ['not a date', decoded.p[1]],
    [decoded.p[0], 'not-a-uuid'],
    [decoded.p[0], 42],
    [20240520, decoded.p[1]],
  ]) {
    const forged = Buffer.from(JSON.stringify({ ...decoded, p })).toString('base64url')
    assertProblem(
      t,
      await listPurchases(ctx, admin, { org_id: orgId, limit: 2, cursor: forged }),
      400,
      'validation_failed',
      ['/querystring/cursor'],
    )
  }
  for (const limit of ['0', '501', '-1', '1.5', 'abc', '']) {
    assertProblem(t, await listPurchases(ctx, admin, { limit }), 400, 'validation_failed', [
      '/querystring/limit',
    ])
  }
  t.equal((await listPurchases(ctx, admin, { limit: 1 })).statusCode, 200, 'limit 1')
  t.equal((await listPurchases(ctx, admin, { limit: 500 })).statusCode, 200, 'limit 500')
})

t.test('void → 200; lists stop counting it; voucher reusable; void twice → 409', async (t) => {
  const { auth, orgId, keyId } = await createOrgWithReporter(ctx)
  const voucher = uniq('void')
  const created = (await postPurchase(ctx, auth, purchaseInput({ voucher_no: voucher }))).json() as Purchase
  const res = await postVoid(ctx, auth, created.id, '  录入重复  ')
  t.equal(res.statusCode, 200, res.body)
  const v = res.json() as Purchase
  t.equal(v.id, created.id)
  t.equal(v.status, 'voided')
  t.equal(v.void_reason, '录入重复', 'reason trimmed')
  t.match(v.voided_at, RFC3339)
  t.same(
    { ...v, status: created.status, voided_at: null, void_reason: null },
    created,
    'nothing else changed',
  )
  t.equal(v.created_by, keyId)
  t.same((await getPurchase(ctx, auth, created.id)).json(), v, 'GET shows the voided record')

  t.same(await listAll(ctx, admin, { org_id: orgId }), [], 'default list no longer shows it')
  t.same(
    (await listAll(ctx, admin, { org_id: orgId, status: 'voided' })).map((p) => p.id),
    [created.id],
  )
  t.same(
    (await listAll(ctx, admin, { voucher_no: voucher, status: 'all' })).map((p) => p.id),
    [created.id],
  )

  // The voucher is free again.
  const again = await postPurchase(ctx, auth, purchaseInput({ voucher_no: voucher }))
  t.equal(again.statusCode, 201, again.body)
  const second = again.json() as Purchase
  t.same(
    (await listAll(ctx, admin, { voucher_no: voucher, status: 'all' })).map((p) => p.id).sort(),
    [created.id, second.id].sort(),
  )
  t.same(
    (await listAll(ctx, admin, { voucher_no: voucher })).map((p) => p.id),
    [second.id],
    'only the new one is active',
  )
  // And a third one clashes with the new active record, naming it.
  const clash = assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ voucher_no: voucher })),
    409,
    'duplicate_voucher',
  )
  t.equal(clash.existing_id, second.id)

  // Void twice → 409 conflict, record unchanged.
  const twice = assertProblem(t, await postVoid(ctx, auth, created.id, 'again'), 409, 'conflict')
  t.match(twice.detail, /already voided/)
  t.same((await getPurchase(ctx, auth, created.id)).json(), v, 'unchanged by the second void')

  // Admin voids too.
  const byAdmin = await postVoid(ctx, admin, second.id, 'admin correction')
  t.equal(byAdmin.statusCode, 200)
  t.equal((byAdmin.json() as Purchase).status, 'voided')
})

t.test('void body is validated', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const p = (await postPurchase(ctx, auth, purchaseInput())).json() as Purchase
  assertProblem(t, await postVoid(ctx, auth, p.id, ''), 400, 'validation_failed', ['/reason'])
  assertProblem(t, await postVoid(ctx, auth, p.id, '   '), 400, 'validation_failed', ['/reason'])
  assertProblem(t, await postVoid(ctx, auth, p.id, 'x'.repeat(501)), 400, 'validation_failed', ['/reason'])
  const extra = await ctx.app.inject({
    method: 'POST',
    url: `/v1/purchases/${p.id}/void`,
    headers: auth,
    payload: { reason: 'ok', status: 'active' },
  })
  assertProblem(t, extra, 400, 'validation_failed', ['/status'])
  const missing = await ctx.app.inject({
    method: 'POST',
    url: `/v1/purchases/${p.id}/void`,
    headers: auth,
    payload: {},
  })
  assertProblem(t, missing, 400, 'validation_failed', ['/reason'])
  t.equal(((await getPurchase(ctx, auth, p.id)).json() as Purchase).status, 'active', 'still active')
})
