/**
 * Free text is treated alike on every create path (issue 13): format characters removed, control
 * characters and lone surrogates refused with a 400 naming the field.
 */
import t from 'tap'
import { postBatch, postCsv, postPurchase } from '../api.js'
import { createOrgWithReporter, csv, type Purchase, purchaseInput, uniq } from '../factories.js'
import { assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const org = await createOrgWithReporter(ctx)
const SUPPLIER = '保山市某某农业开发有限公司'
/** Zero-width space, soft hyphen, right-to-left override, zero-width joiner, BOM. */
const INVISIBLE = ['\u200b', '\u00ad', '\u202e', '\u200d', '\ufeff']

t.test('format characters are removed from text on the single, batch and CSV paths', async (t) => {
  const dirty = `保山${INVISIBLE.join('')}市某某农业开发有限公司`
  const single = await postPurchase(ctx, org.auth, purchaseInput({ supplier: dirty, note: `a\u200bb` }))
  t.equal(single.statusCode, 201, single.body)
  t.equal((single.json() as Purchase).supplier, SUPPLIER)
  t.equal((single.json() as Purchase).note, 'ab')
  const batch = await postBatch(ctx, org.auth, [purchaseInput({ supplier: dirty })])
  t.equal(batch.statusCode, 201, batch.body)
  t.equal((batch.json() as { items: Purchase[] }).items[0]!.supplier, SUPPLIER)
  const file = csv(
    'channel,amount,occurred_on,region_code,supplier',
    `wholesale,1.00,2024-05-20,530502,${dirty}`,
  )
  const imported = await postCsv(ctx, org.auth, file)
  t.equal(imported.statusCode, 201, imported.body)
})

t.test('a voucher with an invisible character is the same voucher', async (t) => {
  const voucher = uniq('FP')
  const first = await postPurchase(ctx, org.auth, purchaseInput({ voucher_no: voucher }))
  t.equal(first.statusCode, 201, first.body)
  const hidden = `${voucher.slice(0, 3)}\u200b${voucher.slice(3)}`
  assertProblem(
    t,
    await postPurchase(ctx, org.auth, purchaseInput({ voucher_no: hidden })),
    409,
    'duplicate_voucher',
  )
})

t.test('text that is only format characters is empty', async (t) => {
  const res = await postPurchase(ctx, org.auth, purchaseInput({ supplier: '\u200b\u200b' }))
  assertProblem(t, res, 400, 'validation_failed', ['/supplier'])
})

t.test('control characters are refused on every path, tab and line breaks allowed', async (t) => {
  const bell = purchaseInput({ note: 'ring\u0007' })
  const single = assertProblem(t, await postPurchase(ctx, org.auth, bell), 400, 'validation_failed', [
    '/note',
  ])
  t.match(single.errors?.[0]?.message, /control characters/)
  assertProblem(t, await postBatch(ctx, org.auth, [bell]), 400, 'validation_failed', ['/items/0/note'])
  const file = csv(
    'channel,amount,occurred_on,region_code,supplier',
    'wholesale,1.00,2024-05-20,530502,A\u001bB',
  )
  assertProblem(t, await postCsv(ctx, org.auth, file), 400, 'validation_failed', ['/rows/2/supplier'])
  const c1 = await postPurchase(ctx, org.auth, purchaseInput({ product: 'x\u0085y' }))
  assertProblem(t, c1, 400, 'validation_failed', ['/product'])
  const ok = await postPurchase(ctx, org.auth, purchaseInput({ note: 'line one\r\nline\ttwo' }))
  t.equal(ok.statusCode, 201, ok.body)
})

t.test('a lone surrogate is refused alike on the single and batch paths', async (t) => {
  const body = JSON.stringify(purchaseInput({ supplier: 'bad\ud800text' }))
  t.match(body, /\\ud800/, 'sent as a JSON escape')
  const single = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases',
    headers: { ...org.auth, 'content-type': 'application/json' },
    payload: body,
  })
  assertProblem(t, single, 400, 'validation_failed', ['/supplier'])
  const batch = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases/batch',
    headers: { ...org.auth, 'content-type': 'application/json' },
    payload: `{"items":[${body}]}`,
  })
  assertProblem(t, batch, 400, 'validation_failed', ['/items/0/supplier'])
})

t.test('org names: format characters removed, control characters refused', async (t) => {
  const name = uniq('工会')
  const created = await ctx.app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: ctx.adminAuth,
    payload: { name: `\u200b${name}\u00ad`, kind: 'trade_union' },
  })
  t.equal(created.statusCode, 201, created.body)
  t.equal(created.json().name, name)
  const bad = await ctx.app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: ctx.adminAuth,
    payload: { name: 'a\u0000b', kind: 'trade_union' },
  })
  assertProblem(t, bad, 400, 'validation_failed', ['/name'])
})
