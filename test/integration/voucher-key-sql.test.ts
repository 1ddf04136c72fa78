/**
 * Migration 0007's SQL `purchase_voucher_key(text)` (the key of records stored before it, and of rows whose
 * writer gives none) agrees with the app's `voucherKey`, and the database holds the voucher invariant for a
 * writer that is not the app.
 */
import { type SQL, sql } from 'drizzle-orm'
import fc from 'fast-check'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { isUniqueViolation } from '../../src/db/errors.js'
import { voucherKey } from '../../src/modules/purchases/voucher-key.js'
import { postPurchase } from '../api.js'
import { createOrgWithReporter, purchaseInput, uniq } from '../factories.js'
import { assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const org = await createOrgWithReporter(ctx)
const rows = <T>(query: SQL) => queryRows<T>(ctx.database.db, query)

/** The SQL key of each text, in order. */
async function sqlKeys(texts: string[]): Promise<string[]> {
  const found = await rows<{ k: string }>(
    sql`select purchase_voucher_key(v) as k from unnest(${sql.param(texts)}::text[]) with ordinality as u(v, n)
         order by n`,
  )
  return found.map((r) => r.k)
}

/** The texts whose SQL key differs from the JS key, with both keys. */
async function disagreements(texts: string[]): Promise<string[]> {
  const keys = await sqlKeys(texts)
  return texts.flatMap((text, i) => {
    const js = voucherKey(text)
    return js === keys[i]
      ? []
      : [`${JSON.stringify(text)}: js ${JSON.stringify(js)}, sql ${JSON.stringify(keys[i])}`]
  })
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/**
 * Every code point of the blocks a voucher is written in (Latin, Greek, Cyrillic, punctuation, symbols,
 * CJK symbols and compatibility forms, presentation and half/full-width forms, mathematical letters) and
 * of the invisible characters. Letters assigned in Unicode 13 and later are left out: a database's tables
 * may predate them (docs/migrations.md, 0007).
 */
const BLOCKS = [
  range(0x1, 0x52f),
  range(0x1e00, 0x1fff),
  range(0x2000, 0x2bff),
  range(0x3000, 0x33ff),
  range(0xfb00, 0xffff),
  range(0x1d400, 0x1d7ff),
  range(0xe0000, 0xe007f),
].flat()

const TRICKY = [
  'INV-001',
  'ＩＮＶ－００１',
  'INV\u200b-\u00ad001',
  ' INV\u00a0-\u3000001\t',
  '\u202eINV-001\u202c',
  'CAFE\u0301',
  'café',
  'STRASSE straße ẞ',
  'ΟΔΟΣ οδος ΣΑΣ',
  'İstanbul ı',
  'ﬁ ﬀ ① ⑴ ㍿ ㈱',
  '𝐀𝐁𝐂 𝟏𝟐𝟑',
  'ǅ ǆ Ǆ',
  '沪２０２４－００１号',
  '\u1100\u1161\u11a8',
  'ᾳ ᾼ ΐ ǰ',
  'a\u0308\u0301 a\u0301\u0308',
  '👨\u200d👩\u200d👧',
  'ر\u200fقم-١٢٣',
  '\ufe0f\u034f\u3164\u115f\u1160\uffa0',
]

t.test('the SQL key equals the JS key on tricky strings', async (t) => {
  t.same(await disagreements(TRICKY), [])
})

t.test('the SQL key equals the JS key on every code point of the usual blocks', async (t) => {
  t.same(await disagreements(BLOCKS.map((c) => String.fromCodePoint(c))), [])
})

t.test('the SQL key equals the JS key on random strings of those characters (property)', async (t) => {
  const chars = [...BLOCKS.map((c) => String.fromCodePoint(c)), ...TRICKY.join('')]
  const texts = fc.sample(fc.string({ unit: fc.constantFrom(...chars), maxLength: 12 }), {
    numRuns: 3000,
    seed: 13,
  })
  t.same(await disagreements(texts), [])
})

t.test('a writer that gives no key gets the SQL key, and the unique index holds for it', async (t) => {
  const voucher = uniq('INV').toUpperCase()
  const [raw] = await rows<{ id: string; voucher_key: string }>(
    sql`insert into purchases (channel, amount_fen, occurred_on, year, org_id, region_code, supplier, voucher_no,
                               created_by)
        values ('wholesale', 100, '2024-05-20', 2024, ${org.orgId}::uuid, '530502', 'x', ${fullWidth(voucher)},
                ${org.keyId}::uuid)
        returning id, voucher_key`,
  )
  t.equal(raw!.voucher_key, voucherKey(voucher))
  const res = await postPurchase(ctx, org.auth, purchaseInput({ voucher_no: voucher.toLowerCase() }))
  t.equal(assertProblem(t, res, 409, 'duplicate_voucher').existing_id, raw!.id)
  // A second raw near-duplicate is refused by the index itself.
  const again = rows(
    sql`insert into purchases (channel, amount_fen, occurred_on, year, org_id, region_code, supplier, voucher_no,
                               created_by)
        values ('wholesale', 100, '2024-05-20', 2024, ${org.orgId}::uuid, '530502', 'x', ${` ${voucher}`},
                ${org.keyId}::uuid)`,
  )
  t.ok(
    isUniqueViolation(await again.catch((e: unknown) => e), 'purchase_voucher'),
    'the voucher index refuses it',
  )

  // Changing the voucher without the key re-keys the row (no voucher, no key); a key without a voucher is
  // refused.
  const rekey = (voucher: string | null) =>
    rows<{ voucher_key: string | null }>(
      sql`update purchases set voucher_no = ${voucher} where id = ${raw!.id}::uuid returning voucher_key`,
    )
  t.same(await rekey('ＮＥＷ－１'), [{ voucher_key: 'new-1' }])
  t.same(await rekey(null), [{ voucher_key: null }])
  const keyOnly = rows(sql`update purchases set voucher_key = 'x' where id = ${raw!.id}::uuid`)
  const refused = await keyOnly.then(
    () => undefined,
    (e: Error) => e,
  )
  t.match(String(refused?.cause), /purchases_voucher_key_check/)
})

function fullWidth(s: string): string {
  return s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))
}
