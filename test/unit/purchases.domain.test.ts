import fc from 'fast-check'
import t, { type Test } from 'tap'
import type { Principal } from '../../src/auth/principal.js'
import { AppError } from '../../src/errors.js'
import {
  assertNoVoucherClash,
  assertOwnOrg,
  type DomainContext,
  distinctGroups,
  EARLIEST_DATE,
  recordProblems,
  scopeFilters,
  toNewPurchase,
  voucherClash,
  voucherKeysOf,
} from '../../src/modules/purchases/purchases.domain.js'
import { voucherKey } from '../../src/modules/purchases/voucher-key.js'

const ORG = '0190a1b2-0000-7000-8000-000000000001'
const OTHER = '0190a1b2-0000-7000-8000-000000000002'
const admin: Principal = { keyId: 'k-admin', role: 'admin', orgId: null }
const reporter: Principal = { keyId: 'k-rep', role: 'reporter', orgId: ORG }
const at = (field: string) => `/items/0/${field}`

/** Catches what `fn` throws (an AppError), or fails the test. */
function thrown(t: Test, fn: () => unknown): AppError {
  try {
    fn()
  } catch (err) {
    t.ok(err instanceof AppError, 'an AppError')
    return err as AppError
  }
  t.fail('expected a throw')
  return new AppError('internal', 500, 'not thrown')
}

const context = (over: Partial<DomainContext> = {}): DomainContext => ({
  principal: admin,
  today: '2024-06-30',
  regions: new Set(['530502']),
  orgs: new Set([ORG]),
  ...over,
})

t.test('assertOwnOrg: a reporter naming another org is a 403; its own org or none passes', async (t) => {
  assertOwnOrg(reporter, [{ org_id: ORG }, {}])
  assertOwnOrg(admin, [{ org_id: OTHER }])
  const err = thrown(t, () => assertOwnOrg(reporter, [{ org_id: ORG }, { org_id: OTHER }]))
  t.equal(err.status, 403)
  t.equal(err.code, 'forbidden')
})

t.test('recordProblems: every domain problem of a well-formed record, by path', async (t) => {
  t.same(recordProblems(context(), { org_id: ORG, occurred_on: '2024-06-30', region_code: '530502' }, at), [])
  t.same(recordProblems(context(), { occurred_on: '2024-01-01', region_code: '530502' }, at), [
    { path: '/items/0/org_id', message: 'required for admin keys' },
  ])
  t.same(recordProblems(context(), { org_id: OTHER, occurred_on: '2024-07-01', region_code: '110101' }, at), [
    { path: '/items/0/org_id', message: 'no such org' },
    {
      path: '/items/0/occurred_on',
      message: 'must not be in the future (today is 2024-06-30 in Asia/Shanghai)',
    },
    { path: '/items/0/region_code', message: 'not a registered counterpart region (see GET /v1/regions)' },
  ])
  t.same(recordProblems(context(), { org_id: ORG, occurred_on: '1999-12-31', region_code: '530502' }, at), [
    { path: '/items/0/occurred_on', message: `must not be before ${EARLIEST_DATE}` },
  ])
  t.same(
    recordProblems(context(), { org_id: ORG, occurred_on: EARLIEST_DATE, region_code: '530502' }, at),
    [],
    'the earliest date itself is allowed',
  )
})

t.test('recordProblems: malformed fields are the schema’s problem, not judged here', async (t) => {
  t.same(recordProblems(context(), { org_id: 'nope', occurred_on: '2024-02-30', region_code: '53' }, at), [])
  t.same(
    recordProblems(context({ principal: reporter, orgs: new Set() }), { occurred_on: '2024-01-01' }, at),
    [],
    'a reporter needs no org_id and its org is not looked up',
  )
})

t.test('scopeFilters: reporters are held to their own org; others pass unchanged', async (t) => {
  const query: { year: number; org_id?: string } = { year: 2024 }
  t.equal(scopeFilters(admin, query), query)
  t.same(scopeFilters(reporter, query), { year: 2024, org_id: ORG })
  t.same(scopeFilters(reporter, { org_id: ORG }), { org_id: ORG })
  t.equal(thrown(t, () => scopeFilters(reporter, { org_id: OTHER })).status, 403)
})

t.test('toNewPurchase: fen, nulls for absent fields, the reporter’s own org', async (t) => {
  const item = {
    channel: 'wholesale' as const,
    amount: '1234.5',
    occurred_on: '2024-05-20',
    org_id: OTHER,
    region_code: '530502',
    supplier: '保山市某某农业开发有限公司',
    voucher_no: 'FP-1',
  }
  t.same(toNewPurchase(reporter, item), {
    channel: 'wholesale',
    amountFen: 123450n,
    occurredOn: '2024-05-20',
    orgId: ORG,
    regionCode: '530502',
    supplier: '保山市某某农业开发有限公司',
    supplierCreditCode: null,
    product: null,
    voucherNo: 'FP-1',
    voucherKey: 'fp-1',
    externalRef: null,
    note: null,
  })
  t.equal(toNewPurchase(admin, item).orgId, OTHER)
  t.equal(toNewPurchase(admin, { ...item, org_id: undefined }).orgId, '', 'no org: the org check refuses it')
  const plain = toNewPurchase(admin, { ...item, voucher_no: 'ＦＰ－１' })
  t.same([plain.voucherNo, plain.voucherKey], ['ＦＰ－１', 'fp-1'], 'the text as sent, the key normalised')
  t.equal(toNewPurchase(admin, { ...item, voucher_no: undefined }).voucherKey, null)
})

/** A record's voucher text and key. */
const v = (voucherNo: string | null) => ({
  voucherNo,
  voucherKey: voucherNo === null ? null : voucherKey(voucherNo),
})

const req = (voucherNo: string | null, idempotencyKey: string | null = null, actorKeyId = 'k1') => ({
  ...v(voucherNo),
  idempotencyKey,
  actorKeyId,
})

t.test(
  'distinctGroups: repeats of a voucher or an (API key, idempotency key) go to later groups',
  async (t) => {
    t.same(distinctGroups([]), [])
    t.same(distinctGroups([req(null), req(null), req('A'), req('B')]), [[0, 1, 2, 3]])
    t.same(distinctGroups([req('A'), req('A'), req('B'), req('A')]), [[0, 2], [1], [3]])
    t.same(distinctGroups([req(null, 'x'), req(null, 'x', 'k2'), req(null, 'x')]), [[0, 1], [2]])
    t.same(distinctGroups([req('A', 'x'), req('B', 'x'), req('A', 'y')]), [[0], [1, 2]])
    t.same(
      distinctGroups([req('INV-001'), req('inv - 001'), req('ＩＮＶ－００１'), req('INV-002')]),
      [[0, 3], [1], [2]],
      'by voucher key: near-duplicates never share a statement',
    )
  },
)

t.test('distinctGroups (property): a partition in order, no shared mark within a group', async (t) => {
  const arb = fc.array(
    fc.record({
      voucherKey: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: null }),
      idempotencyKey: fc.option(fc.constantFrom('x', 'y'), { nil: null }),
      actorKeyId: fc.constantFrom('k1', 'k2'),
    }),
    { maxLength: 30 },
  )
  fc.assert(
    fc.property(arb, (requests) => {
      const groups = distinctGroups(requests)
      const flat = groups.flat().sort((a, b) => a - b)
      if (flat.length !== requests.length || flat.some((v, i) => v !== i)) return false
      return groups.every((g) => {
        if (g.some((v, i) => i > 0 && v < g[i - 1]!)) return false
        const vouchers = g.flatMap((i) => (requests[i]!.voucherKey ? [requests[i]!.voucherKey] : []))
        const keys = g.flatMap((i) => {
          const r = requests[i]!
          return r.idempotencyKey ? [`${r.actorKeyId}:${r.idempotencyKey}`] : []
        })
        return new Set(vouchers).size === vouchers.length && new Set(keys).size === keys.length
      })
    }),
  )
  t.pass('property held')
})

t.test('voucher clashes: stored and repeated, sorted by path, the stored record named', async (t) => {
  const rows = [v('A'), v(null), v('B'), v('A')]
  const pathOf = (i: number) => `/items/${i}`
  assertNoVoucherClash(rows.slice(0, 3), new Map(), pathOf)
  const repeated = thrown(t, () => assertNoVoucherClash(rows, new Map(), pathOf))
  t.equal(repeated.status, 409)
  t.equal(repeated.code, 'duplicate_voucher')
  t.equal(repeated.detail, 'Voucher numbers repeat within the request.')
  t.same(repeated.errors, [
    { path: '/items/0/voucher_no', message: 'voucher A appears more than once in this request' },
    { path: '/items/3/voucher_no', message: 'voucher A appears more than once in this request' },
  ])
  t.equal(repeated.extra, undefined)

  const many = Array.from({ length: 12 }, (_, i) => v(i === 2 || i === 10 ? 'B' : `V${i}`))
  const stored = thrown(t, () => assertNoVoucherClash(many, new Map([['b', 'rec-1']]), pathOf))
  t.same(
    stored.errors?.map((e) => e.path),
    ['/items/2/voucher_no', '/items/10/voucher_no'],
    'numeric order',
  )
  t.equal(stored.errors?.[0]?.message, 'voucher B is already on active record rec-1')
  t.same(stored.extra, { existing_id: 'rec-1' })
  t.equal(stored.detail, 'Voucher number already counted on active record rec-1.')
  t.same(voucherClash([], 'r').extra, { existing_id: 'r' })
})

t.test('voucher clashes are found by key; each message quotes its own text', async (t) => {
  const pathOf = (i: number) => `/items/${i}`
  const rows = [v('INV-001'), v('inv\u00a0-001'), v('INV-002')]
  const repeated = thrown(t, () => assertNoVoucherClash(rows, new Map(), pathOf))
  t.same(repeated.errors, [
    { path: '/items/0/voucher_no', message: 'voucher INV-001 appears more than once in this request' },
    { path: '/items/1/voucher_no', message: 'voucher inv\u00a0-001 appears more than once in this request' },
  ])
  const stored = thrown(t, () =>
    assertNoVoucherClash([v('ＩＮＶ－００２')], new Map([['inv-002', 'r1']]), pathOf),
  )
  t.same(stored.errors, [
    { path: '/items/0/voucher_no', message: 'voucher ＩＮＶ－００２ is already on active record r1' },
  ])
})

t.test('voucherKeysOf: the distinct voucher keys', async (t) => {
  t.same(voucherKeysOf([v('A'), v(null), v('a'), v('B ')]), ['a', 'b'])
})
