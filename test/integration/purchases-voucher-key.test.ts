/**
 * Vouchers are compared as people mean them (issue 13): case, full-width forms, invisible characters and
 * whitespace make no new voucher, on the single, batch and CSV paths, alone or concurrent, while each
 * record keeps the voucher text it was sent with.
 */
import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { getPurchase, listAll, postBatch, postCsv, postPurchase, postVoid } from '../api.js'
import { createOrgWithReporter, csv, type Purchase, purchaseInput } from '../factories.js'
import { assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const org = await createOrgWithReporter(ctx)
const other = await createOrgWithReporter(ctx)

/** A fresh invoice number, `INV-<digits>`. */
const invoice = () => `INV-${BigInt(`0x${randomBytes(6).toString('hex')}`)}`

const fullWidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))

/** Seven ways to write one invoice number: as printed, then six near-duplicates. */
function forms(voucher: string): string[] {
  const [prefix, digits] = voucher.split('-') as [string, string]
  return [
    voucher,
    voucher.toLowerCase(),
    fullWidth(voucher),
    `${prefix}\u200b-${digits}`, // zero-width space
    `${prefix}-\u00ad${digits}`, // soft hyphen
    ` ${voucher} `,
    `${prefix}\u00a0-\u00a0${digits}`, // no-break spaces
  ]
}

/** Active records whose voucher key is this voucher's. */
async function activeWithKeyOf(voucher: string): Promise<{ id: string; voucher_no: string }[]> {
  return queryRows(
    ctx.database.db,
    sql`select id, voucher_no from purchases
         where status = 'active' and voucher_key = ${voucher.toLowerCase()} order by created_at`,
  )
}

const HEADER = 'channel,amount,occurred_on,region_code,supplier,voucher_no'
const csvRow = (voucher: string) => `wholesale,10.00,2024-05-20,530502,保山市某某农业开发有限公司,${voucher}`

t.test('single POST: one 201, then a 409 naming it for each near-duplicate', async (t) => {
  const [printed, ...near] = forms(invoice())
  // The full-width form first: the record keeps the text it was sent with.
  const wide = fullWidth(printed!)
  const first = await postPurchase(ctx, org.auth, purchaseInput({ voucher_no: wide }))
  t.equal(first.statusCode, 201, first.body)
  const record = first.json() as Purchase
  t.equal(record.voucher_no, wide, 'the response keeps the text as sent')
  t.equal(
    ((await getPurchase(ctx, org.auth, record.id)).json() as Purchase).voucher_no,
    wide,
    'so does the record',
  )
  for (const voucher of [printed!, ...near.filter((v) => v !== wide)]) {
    // Another org, another channel: a voucher counts once across all of them.
    const res = await postPurchase(
      ctx,
      other.auth,
      purchaseInput({ voucher_no: voucher, channel: 'enterprise' }),
    )
    const problem = assertProblem(t, res, 409, 'duplicate_voucher', ['/voucher_no'])
    t.equal(problem.existing_id, record.id, JSON.stringify(voucher))
  }
  t.equal((await activeWithKeyOf(printed!)).length, 1)
})

t.test('single POST, all seven at once: one 201 and six 409s', async (t) => {
  const all = forms(invoice())
  const answers = await Promise.all(
    all.map((v) => postPurchase(ctx, org.auth, purchaseInput({ voucher_no: v }))),
  )
  const created = answers.filter((r) => r.statusCode === 201)
  t.equal(created.length, 1, answers.map((r) => r.statusCode).join(','))
  const id = (created[0]!.json() as Purchase).id
  for (const res of answers.filter((r) => r.statusCode !== 201)) {
    t.equal(assertProblem(t, res, 409, 'duplicate_voucher').existing_id, id)
  }
  t.same(
    (await activeWithKeyOf(all[0]!)).map((r) => r.id),
    [id],
  )
})

t.test('batch: near-duplicates within the request and against a stored record', async (t) => {
  const all = forms(invoice())
  const within = await postBatch(
    ctx,
    org.auth,
    all.map((v) => purchaseInput({ voucher_no: v })),
  )
  const paths = all.map((_, i) => `/items/${i}/voucher_no`)
  const problem = assertProblem(t, within, 409, 'duplicate_voucher', paths)
  t.notOk(problem.existing_id)
  t.equal((await activeWithKeyOf(all[0]!)).length, 0, 'nothing stored')
  assertProblem(
    t,
    await postBatch(
      ctx,
      org.auth,
      all.map((v) => purchaseInput({ voucher_no: v })),
      { dryRun: true },
    ),
    409,
    'duplicate_voucher',
    paths,
  )

  const first = await postBatch(ctx, org.auth, [purchaseInput({ voucher_no: all[2] })])
  t.equal(first.statusCode, 201, first.body)
  const stored = (first.json() as { items: Purchase[] }).items[0]!
  t.equal(stored.voucher_no, all[2], 'stored as sent')
  for (const voucher of all) {
    const res = await postBatch(ctx, other.auth, [purchaseInput(), purchaseInput({ voucher_no: voucher })])
    t.equal(assertProblem(t, res, 409, 'duplicate_voucher', ['/items/1/voucher_no']).existing_id, stored.id)
  }
  t.equal((await activeWithKeyOf(all[0]!)).length, 1)
})

t.test('CSV import: near-duplicates within the file and against a stored record', async (t) => {
  const all = forms(invoice())
  const file = csv(HEADER, ...all.map(csvRow))
  const rows = all.map((_, i) => `/rows/${i + 2}/voucher_no`)
  for (const query of ['', '?dry_run=true']) {
    const problem = assertProblem(
      t,
      await postCsv(ctx, org.auth, file, query),
      409,
      'duplicate_voucher',
      rows,
    )
    t.notOk(problem.existing_id)
    t.match(problem.errors?.[2]?.message, `voucher ${all[2]} appears more than once`, 'its own text')
  }
  t.equal((await activeWithKeyOf(all[0]!)).length, 0, 'nothing stored')

  const first = await postCsv(ctx, org.auth, csv(HEADER, csvRow(all[6]!)))
  t.equal(first.statusCode, 201, first.body)
  const [stored] = await activeWithKeyOf(all[0]!)
  t.equal(stored?.voucher_no, all[6], 'stored as sent (no-break spaces and all)')
  for (const voucher of all) {
    const res = await postCsv(ctx, other.auth, csv(HEADER, csvRow(invoice()), csvRow(voucher)))
    t.equal(assertProblem(t, res, 409, 'duplicate_voucher', ['/rows/3/voucher_no']).existing_id, stored!.id)
  }
  t.equal((await activeWithKeyOf(all[0]!)).length, 1)
})

t.test('voiding a record frees its voucher for a near-duplicate', async (t) => {
  const [printed, lower, wide] = forms(invoice())
  const first = await postPurchase(ctx, org.auth, purchaseInput({ voucher_no: printed }))
  t.equal(first.statusCode, 201, first.body)
  t.equal((await postVoid(ctx, org.auth, (first.json() as Purchase).id)).statusCode, 200)
  const again = await postPurchase(ctx, org.auth, purchaseInput({ voucher_no: lower }))
  t.equal(again.statusCode, 201, again.body)
  t.equal((again.json() as Purchase).voucher_no, lower)
  assertProblem(
    t,
    await postPurchase(ctx, org.auth, purchaseInput({ voucher_no: wide })),
    409,
    'duplicate_voucher',
  )
  const records = await listAll(ctx, org.auth, { voucher_no: wide!, status: 'all' })
  t.same(
    records.map((r) => r.voucher_no).sort(),
    [printed, lower].sort(),
    'the list filter compares keys too',
  )
})

t.test('a voucher must have something visible to compare, and a key the index can hold', async (t) => {
  const blank = await postPurchase(ctx, org.auth, purchaseInput({ voucher_no: '\u3164\ufe0f' }))
  t.match(assertProblem(t, blank, 400, 'validation_failed', ['/voucher_no']).errors?.[0]?.message, /visible/)
  // U+FDFA expands to 18 characters under NFKD: 100 of them would overflow the index entry.
  const huge = await postPurchase(ctx, org.auth, purchaseInput({ voucher_no: '\ufdfa'.repeat(100) }))
  t.match(
    assertProblem(t, huge, 400, 'validation_failed', ['/voucher_no']).errors?.[0]?.message,
    /at most 200/,
  )
  const inBatch = await postBatch(ctx, org.auth, [purchaseInput({ voucher_no: '\u3164' })])
  assertProblem(t, inBatch, 400, 'validation_failed', ['/items/0/voucher_no'])
  const inFile = await postCsv(ctx, org.auth, csv(HEADER, csvRow('\ufdfa'.repeat(100))))
  assertProblem(t, inFile, 400, 'validation_failed', ['/rows/2/voucher_no'])
})
