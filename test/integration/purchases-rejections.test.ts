/** Purchases: every rejection the contract lists — 400 validation_failed with the right paths, 404, 409. */
import { sql } from 'drizzle-orm'
import t from 'tap'
import { shanghaiToday } from '../../src/dates.js'
import { creditCodeCheckChar } from '../../src/modules/purchases/credit-code.js'
import { getPurchase, listPurchases, postBatch, postPurchase, postVoid } from '../api.js'
import { createOrgWithReporter, type Purchase, purchaseInput, uniq, validCreditCode } from '../factories.js'
import { type Auth, assertProblem, buildTestApp, countRows } from '../helper.js'

/** The app's clock: the real one, unless a test pins it (subtests run one at a time). */
let pinnedNow: Date | undefined
const ctx = await buildTestApp(t, { now: () => pinnedNow ?? new Date() })
const admin: Auth = ctx.adminAuth
const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY'

const tomorrow = () => shanghaiToday(new Date(Date.now() + 24 * 3600 * 1000))

t.test('money: every malformed amount → 400 at /amount, nothing stored', async (t) => {
  const { auth, orgId } = await createOrgWithReporter(ctx)
  const bad: unknown[] = [
    125000.5,
    125000,
    0,
    '0',
    '0.00',
    '0.0',
    '1.005',
    '1e3',
    '12,000',
    '１２３',
    '12345678901',
    '99999999999.99',
    '-5',
    '+5',
    '',
    ' ',
    ' 12.00',
    '12.00 ',
    '12.',
    '.5',
    '0x10',
    'NaN',
    'Infinity',
    '1 000',
    '١٢٣',
    null,
    true,
    ['1.00'],
    { yuan: 1 },
  ]
  for (const amount of bad) {
    const res = await postPurchase(ctx, auth, purchaseInput({ amount }))
    const body = assertProblem(t, res, 400, 'validation_failed', ['/amount'])
    t.comment(`${JSON.stringify(amount)} → ${body.errors?.map((e) => e.message).join(' | ')}`)
  }
  const number = (await postPurchase(ctx, auth, purchaseInput({ amount: 125000.5 }))).json() as {
    errors: { message: string }[]
  }
  t.match(number.errors[0]!.message, /JSON number/, 'a JSON number gets a clear message')
  const zero = (await postPurchase(ctx, auth, purchaseInput({ amount: '0.00' }))).json() as {
    errors: { message: string }[]
  }
  t.match(zero.errors[0]!.message, /greater than 0/)
  const { amount: _, ...noAmount } = purchaseInput()
  assertProblem(t, await postPurchase(ctx, auth, noAmount), 400, 'validation_failed', ['/amount'])
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 0, 'nothing stored')
})

t.test('dates: future, impossible, too early, wrong format → 400 at /occurred_on', async (t) => {
  const { auth, orgId } = await createOrgWithReporter(ctx)
  const today = shanghaiToday(new Date())
  for (const occurred_on of [
    tomorrow(),
    '2099-01-01',
    '2023-02-29',
    '2024-02-30',
    '2024-13-01',
    '2024-00-10',
    '2024-04-31',
    '1999-12-31',
    '1970-01-01',
    '2024/05/20',
    '2024-5-20',
    '20240520',
    '2024-05-20T00:00:00Z',
    ' 2024-05-20',
    '',
    20240520,
    null,
  ]) {
    const res = await postPurchase(ctx, auth, purchaseInput({ occurred_on }))
    const body = assertProblem(t, res, 400, 'validation_failed', ['/occurred_on'])
    t.comment(`${JSON.stringify(occurred_on)} → ${body.errors?.map((e) => e.message).join(' | ')}`)
  }
  const future = (await postPurchase(ctx, auth, purchaseInput({ occurred_on: tomorrow() }))).json() as {
    errors: { message: string }[]
  }
  t.match(future.errors[0]!.message, /future/)
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 0, 'nothing stored')
  // The edges are accepted: today (Asia/Shanghai) and 2000-01-01.
  for (const occurred_on of [today, '2000-01-01', '2024-02-29']) {
    const ok = await postPurchase(ctx, auth, purchaseInput({ occurred_on }))
    t.equal(ok.statusCode, 201, `${occurred_on}: ${ok.body}`)
  }
})

t.test('future is judged in Asia/Shanghai, not UTC', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  // 2024-05-20 16:30 UTC is already 2024-05-21 00:30 in Shanghai.
  pinnedNow = new Date('2024-05-20T16:30:00Z')
  t.teardown(() => {
    pinnedNow = undefined
  })
  const ok = await postPurchase(ctx, auth, purchaseInput({ occurred_on: '2024-05-21' }))
  t.equal(ok.statusCode, 201, `today in Shanghai is accepted: ${ok.body}`)
  const res = await postPurchase(ctx, auth, purchaseInput({ occurred_on: '2024-05-22' }))
  const body = assertProblem(t, res, 400, 'validation_failed', ['/occurred_on'])
  t.match(body.errors![0]!.message, /today is 2024-05-21/)
  // 15:59 UTC is still 23:59 of the 20th in Shanghai.
  pinnedNow = new Date('2024-05-20T15:59:00Z')
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ occurred_on: '2024-05-21' })),
    400,
    'validation_failed',
    ['/occurred_on'],
  )
  pinnedNow = undefined
})

t.test('regions: unknown or malformed → 400 at /region_code', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  for (const region_code of ['999999', '110101', '5305', '5305020', 'abcdef', ' 530502', '', 530502, null]) {
    const res = await postPurchase(ctx, auth, purchaseInput({ region_code }))
    assertProblem(t, res, 400, 'validation_failed', ['/region_code'])
  }
  const unknown = (await postPurchase(ctx, auth, purchaseInput({ region_code: '999999' }))).json() as {
    errors: { message: string }[]
  }
  t.match(unknown.errors[0]!.message, /region/)
})

t.test('orgs: admin must name an existing org', async (t) => {
  const missing = await postPurchase(ctx, admin, purchaseInput())
  assertProblem(t, missing, 400, 'validation_failed', ['/org_id'])
  const unknown = await postPurchase(
    ctx,
    admin,
    purchaseInput({ org_id: '00000000-0000-4000-8000-000000000000' }),
  )
  assertProblem(t, unknown, 400, 'validation_failed', ['/org_id'])
  assertProblem(
    t,
    await postPurchase(ctx, admin, purchaseInput({ org_id: 'not-a-uuid' })),
    400,
    'validation_failed',
    ['/org_id'],
  )
  assertProblem(t, await postPurchase(ctx, admin, purchaseInput({ org_id: 12 })), 400, 'validation_failed', [
    '/org_id',
  ])
})

t.test('credit codes: check character verified, lowercase normalised', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const first17 = '91530500MA6K3B2N7'
  const check = creditCodeCheckChar(first17)!
  const valid = first17 + check
  const wrongCheck = first17 + ALPHABET[(ALPHABET.indexOf(check) + 1) % ALPHABET.length]
  const bad = await postPurchase(ctx, auth, purchaseInput({ supplier_credit_code: wrongCheck }))
  const body = assertProblem(t, bad, 400, 'validation_failed', ['/supplier_credit_code'])
  t.match(body.errors![0]!.message, /check/)
  for (const code of [
    valid.slice(0, 17),
    `${valid}0`,
    `${valid.slice(0, 5)}I${valid.slice(6)}`,
    `${valid.slice(0, 5)}O${valid.slice(6)}`,
    '',
    '91350100M000100Y44',
    123,
  ]) {
    assertProblem(
      t,
      await postPurchase(ctx, auth, purchaseInput({ supplier_credit_code: code })),
      400,
      'validation_failed',
      ['/supplier_credit_code'],
    )
  }
  const ok = await postPurchase(ctx, auth, purchaseInput({ supplier_credit_code: valid }))
  t.equal(ok.statusCode, 201, ok.body)
  t.equal((ok.json() as Purchase).supplier_credit_code, valid)
  const lower = await postPurchase(ctx, auth, purchaseInput({ supplier_credit_code: valid.toLowerCase() }))
  t.equal(lower.statusCode, 201, lower.body)
  t.equal((lower.json() as Purchase).supplier_credit_code, valid, 'lowercase normalised to uppercase')
  const known = await postPurchase(ctx, auth, purchaseInput({ supplier_credit_code: '91350100M000100Y43' }))
  t.equal(known.statusCode, 201, 'the public example code is accepted')
  t.equal(validCreditCode().length, 18)
})

t.test('unknown fields, text limits, channel, supplier', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ colour: 'red' })),
    400,
    'validation_failed',
    ['/colour'],
  )
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ status: 'voided' })),
    400,
    'validation_failed',
    ['/status'],
  )
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ id: '00000000-0000-4000-8000-000000000000' })),
    400,
    'validation_failed',
    ['/id'],
  )
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ note: 'x'.repeat(2001) })),
    400,
    'validation_failed',
    ['/note'],
  )
  t.equal(
    (await postPurchase(ctx, auth, purchaseInput({ note: '注'.repeat(2000) }))).statusCode,
    201,
    'note 2000',
  )
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ external_ref: 'r'.repeat(201) })),
    400,
    'validation_failed',
    ['/external_ref'],
  )
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ supplier: 's'.repeat(201) })),
    400,
    'validation_failed',
    ['/supplier'],
  )
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ supplier: '   ' })),
    400,
    'validation_failed',
    ['/supplier'],
  )
  const { supplier: _, ...noSupplier } = purchaseInput()
  assertProblem(t, await postPurchase(ctx, auth, noSupplier), 400, 'validation_failed', ['/supplier'])
  for (const channel of ['other', 'Wholesale', '大宗批发', '', null]) {
    assertProblem(t, await postPurchase(ctx, auth, purchaseInput({ channel })), 400, 'validation_failed', [
      '/channel',
    ])
  }
  // Several problems at once: all of them are listed.
  assertProblem(
    t,
    await postPurchase(ctx, auth, {
      channel: 'x',
      amount: 1,
      occurred_on: '2024-02-30',
      region_code: '12',
      supplier: '',
      extra: 1,
    }),
    400,
    'validation_failed',
    ['/channel', '/amount', '/occurred_on', '/region_code', '/supplier', '/extra'],
  )
  // Domain problems are listed together too.
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ occurred_on: tomorrow(), region_code: '999999' })),
    400,
    'validation_failed',
    ['/occurred_on', '/region_code'],
  )
})

t.test('a request with schema and domain problems lists both', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ amount: '1.005', region_code: '999999' })),
    400,
    'validation_failed',
    ['/amount', '/region_code'],
  )
})

t.test('body shape: not JSON, wrong type, too large', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const raw = (payload: string, contentType: string) =>
    postPurchase(ctx, auth, payload, { 'content-type': contentType })
  assertProblem(t, await raw('{"channel": ', 'application/json'), 400, 'validation_failed')
  assertProblem(t, await raw('[]', 'application/json'), 400, 'validation_failed')
  assertProblem(t, await raw('channel=wholesale', 'text/plain'), 415, 'unsupported_media_type')
  const huge = await postPurchase(ctx, auth, purchaseInput({ note: 'x'.repeat(1024 * 1024 + 10) }))
  assertProblem(t, huge, 413, 'payload_too_large')
})

t.test('batch: every bad item listed by index; nothing stored', async (t) => {
  const { auth, orgId } = await createOrgWithReporter(ctx)
  const items = Array.from({ length: 20 }, () => purchaseInput())
  items[3] = purchaseInput({ amount: '1.005' })
  items[17] = purchaseInput({ occurred_on: '2023-02-29', channel: 'nope' })
  assertProblem(t, await postBatch(ctx, auth, items), 400, 'validation_failed', [
    '/items/3/amount',
    '/items/17/occurred_on',
    '/items/17/channel',
  ])
  // Domain problems, by index.
  const domain = Array.from({ length: 20 }, () => purchaseInput())
  domain[3] = purchaseInput({ region_code: '999999' })
  domain[17] = purchaseInput({ occurred_on: tomorrow() })
  assertProblem(t, await postBatch(ctx, auth, domain), 400, 'validation_failed', [
    '/items/3/region_code',
    '/items/17/occurred_on',
  ])
  // Admin batch: unknown and missing orgs by index.
  const adminItems = Array.from({ length: 5 }, () => purchaseInput({ org_id: orgId }))
  adminItems[1] = purchaseInput({ org_id: '00000000-0000-4000-8000-000000000000' })
  adminItems[4] = purchaseInput()
  assertProblem(t, await postBatch(ctx, admin, adminItems), 400, 'validation_failed', [
    '/items/1/org_id',
    '/items/4/org_id',
  ])
  // Unknown fields inside an item, and at the top level.
  const extra = [purchaseInput(), purchaseInput({ colour: 'red' })]
  assertProblem(t, await postBatch(ctx, auth, extra), 400, 'validation_failed', ['/items/1/colour'])
  const top = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases/batch',
    headers: auth,
    payload: { items: [purchaseInput()], dry_run: true },
  })
  assertProblem(t, top, 400, 'validation_failed', ['/dry_run'])
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 0, 'nothing stored')
})

t.test('batch mixing schema and domain problems lists both', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const items = Array.from({ length: 20 }, () => purchaseInput())
  items[3] = purchaseInput({ amount: '1e3' })
  items[17] = purchaseInput({ region_code: '999999' })
  assertProblem(t, await postBatch(ctx, auth, items), 400, 'validation_failed', [
    '/items/3/amount',
    '/items/17/region_code',
  ])
})

t.test('batch size: 0 and 1001 items → 400; 1000 items fine', async (t) => {
  const { auth, orgId } = await createOrgWithReporter(ctx)
  assertProblem(t, await postBatch(ctx, auth, []), 400, 'validation_failed', ['/items'])
  const tooMany = Array.from({ length: 1001 }, () => purchaseInput({ voucher_no: null }))
  assertProblem(t, await postBatch(ctx, auth, tooMany), 400, 'validation_failed', ['/items'])
  const noItems = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases/batch',
    headers: auth,
    payload: {},
  })
  assertProblem(t, noItems, 400, 'validation_failed', ['/items'])
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 0)
  const max = await postBatch(ctx, auth, tooMany.slice(0, 1000))
  t.equal(max.statusCode, 201)
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 1000)
})

t.test('vouchers: clash inside a batch and with stored records → 409 listing every path', async (t) => {
  const { auth, orgId } = await createOrgWithReporter(ctx)
  const other = await createOrgWithReporter(ctx)
  // Stored in another org and another channel: vouchers count once across every channel and org.
  const stored = (
    await postPurchase(ctx, other.auth, purchaseInput({ channel: 'enterprise' }))
  ).json() as Purchase
  const inside = uniq('dup')
  const items = Array.from({ length: 10 }, () => purchaseInput({ channel: 'market_sales' }))
  items[2] = purchaseInput({ voucher_no: inside })
  items[5] = purchaseInput({ voucher_no: inside })
  items[7] = purchaseInput({ voucher_no: stored.voucher_no })
  const res = await postBatch(ctx, auth, items)
  const body = assertProblem(t, res, 409, 'duplicate_voucher')
  t.same(
    body.errors?.map((e) => e.path),
    ['/items/2/voucher_no', '/items/5/voucher_no', '/items/7/voucher_no'],
    'every clashing path',
  )
  t.equal(body.existing_id, stored.id, 'existing_id names the stored record')
  t.match(body.detail, stored.id)
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 0, 'nothing stored')

  // Only inside the batch.
  const onlyInside = [
    purchaseInput({ voucher_no: inside }),
    purchaseInput(),
    purchaseInput({ voucher_no: inside }),
  ]
  const r2 = assertProblem(t, await postBatch(ctx, auth, onlyInside), 409, 'duplicate_voucher')
  t.same(
    r2.errors?.map((e) => e.path),
    ['/items/0/voucher_no', '/items/2/voucher_no'],
  )
  t.equal(r2.existing_id, undefined)
  // Dry run reports the same.
  const dry = assertProblem(t, await postBatch(ctx, auth, items, { dryRun: true }), 409, 'duplicate_voucher')
  t.same(dry.errors, body.errors)

  // Single create: detail and existing_id name the other record.
  const single = assertProblem(
    t,
    await postPurchase(ctx, auth, purchaseInput({ voucher_no: stored.voucher_no })),
    409,
    'duplicate_voucher',
  )
  t.equal(single.existing_id, stored.id)
  t.match(single.detail, stored.id)
  t.same(
    single.errors?.map((e) => e.path),
    ['/voucher_no'],
  )
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 0, 'still nothing stored')
})

t.test('dry run: checks everything, stores nothing', async (t) => {
  const { auth, orgId } = await createOrgWithReporter(ctx)
  const items = Array.from({ length: 4 }, () => purchaseInput())
  items[1] = purchaseInput({ amount: '0' })
  assertProblem(t, await postBatch(ctx, auth, items, { dryRun: true }), 400, 'validation_failed', [
    '/items/1/amount',
  ])
  const domain = [purchaseInput({ region_code: '999999' })]
  assertProblem(t, await postBatch(ctx, auth, domain, { dryRun: true }), 400, 'validation_failed', [
    '/items/0/region_code',
  ])
  const bad = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases/batch?dry_run=yes',
    headers: auth,
    payload: { items: [purchaseInput()] },
  })
  assertProblem(t, bad, 400, 'validation_failed', ['/querystring/dry_run'])
  const unknownQuery = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases/batch?dryrun=true',
    headers: auth,
    payload: { items: [purchaseInput()] },
  })
  assertProblem(t, unknownQuery, 400, 'validation_failed', ['/querystring/dryrun'])
  t.equal(await countRows(ctx, sql`org_id = ${orgId}`), 0)
})

t.test('ids in the path: malformed → 400, unknown → 404', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const unknown = '00000000-0000-4000-8000-000000000000'
  for (const bad of ['123', 'not-a-uuid', '00000000-0000-4000-8000-00000000000Z', "1'%20or%20'1'='1"]) {
    assertProblem(t, await getPurchase(ctx, auth, bad), 400, 'validation_failed', ['/params/id'])
    assertProblem(t, await postVoid(ctx, auth, bad), 400, 'validation_failed', ['/params/id'])
  }
  assertProblem(t, await getPurchase(ctx, auth, unknown), 404, 'not_found')
  assertProblem(t, await getPurchase(ctx, admin, unknown), 404, 'not_found')
  assertProblem(t, await postVoid(ctx, admin, unknown), 404, 'not_found')
  assertProblem(t, await postVoid(ctx, auth, unknown), 404, 'not_found')
  assertProblem(
    t,
    await ctx.app.inject({ method: 'GET', url: '/v1/purchase', headers: auth }),
    404,
    'not_found',
  )
})

t.test('list query: every bad filter → 400 at its path', async (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ year: 'abc' }, '/querystring/year'],
    [{ year: '1999' }, '/querystring/year'],
    [{ year: '2024.5' }, '/querystring/year'],
    [{ channel: 'other' }, '/querystring/channel'],
    [{ org_id: 'nope' }, '/querystring/org_id'],
    [{ region_code: '5305' }, '/querystring/region_code'],
    [{ status: 'deleted' }, '/querystring/status'],
    [{ from: '2024-02-30' }, '/querystring/from'],
    [{ to: '2024/01/01' }, '/querystring/to'],
    [{ voucher_no: '' }, '/querystring/voucher_no'],
    [{ sort: 'amount' }, '/querystring/sort'],
  ]
  for (const [query, path] of cases) {
    assertProblem(t, await listPurchases(ctx, admin, query), 400, 'validation_failed', [path])
  }
})

t.test('void of a voided record after its voucher was reused stays a 409', async (t) => {
  const { auth } = await createOrgWithReporter(ctx)
  const v = uniq('reuse')
  const first = (await postPurchase(ctx, auth, purchaseInput({ voucher_no: v }))).json() as Purchase
  t.equal((await postVoid(ctx, auth, first.id)).statusCode, 200)
  t.equal((await postPurchase(ctx, auth, purchaseInput({ voucher_no: v }))).statusCode, 201)
  assertProblem(t, await postVoid(ctx, auth, first.id), 409, 'conflict')
})
