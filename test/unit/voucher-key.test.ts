import fc from 'fast-check'
import t from 'tap'
import { voucherKey } from '../../src/modules/purchases/voucher-key.js'

/** The full-width form of the printable ASCII characters (U+FF01–FF5E), the ideographic space for a space. */
const fullWidth = (s: string) =>
  s.replace(/[!-~ ]/g, (c) => (c === ' ' ? '\u3000' : String.fromCharCode(c.charCodeAt(0) + 0xfee0)))

/** Invisible characters a pasted or hostile voucher may carry. */
const INVISIBLE = [
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\u00ad',
  '\ufeff',
  '\u202e',
  '\u2066',
  '\ufe0f',
  '\u034f',
]
const SPACE = [' ', '\u00a0', '\u3000', '\u2009', '\t', '\u202f']

/** Any string, code points from the whole of Unicode (lone surrogates are refused before the key). */
const anyText = fc.string({ unit: 'grapheme', maxLength: 12 })
const anyCodePoints = fc.string({ unit: 'binary', maxLength: 12 })

t.test('the near-duplicates of one invoice have one key', async (t) => {
  const forms = [
    'INV-001',
    'inv-001',
    'ＩＮＶ－００１',
    'INV\u200b-001',
    'INV-\u00ad001',
    ' INV-001 ',
    'INV\u00a0-\u00a0001',
    'INV-001\u3000',
    'Inv - 001',
    '\u202eINV-001\u202c',
    'INV-00\ufe0f1',
  ]
  for (const f of forms) t.equal(voucherKey(f), 'inv-001', JSON.stringify(f))
})

t.test('what the key keeps apart', async (t) => {
  t.not(voucherKey('INV-001'), voucherKey('INV-002'))
  t.not(voucherKey('INV-001'), voucherKey('INV001'), 'punctuation counts')
  t.not(voucherKey('INV–001'), voucherKey('INV-001'), 'an en dash is not a hyphen-minus')
  t.not(voucherKey('CAFE'), voucherKey('CAFÉ'), 'marks count')
  t.not(voucherKey('АВС'), voucherKey('ABC'), 'Cyrillic letters are not Latin ones')
})

t.test('compatibility forms, composition and full case folding', async (t) => {
  t.equal(voucherKey('CAFE\u0301'), voucherKey('café'), 'e + combining acute = é')
  t.equal(voucherKey('café'), 'café')
  t.equal(voucherKey('①②'), '12')
  t.equal(voucherKey('ﬁ-1'), 'fi-1')
  t.equal(voucherKey('STRASSE'), voucherKey('straße'))
  t.equal(voucherKey('ẞ'), 'ss')
  t.equal(voucherKey('ΟΔΟΣ'), voucherKey('οδος'), 'final sigma')
  t.equal(voucherKey('οδοσ'), voucherKey('οδος'))
  t.equal(voucherKey('沪２０２４－００１'), '沪2024-001')
  t.equal(voucherKey('\u3164'), '', 'a Hangul filler alone: nothing visible')
})

t.test('key(key(x)) = key(x) (property)', async (t) => {
  fc.assert(
    fc.property(anyText, (x) => voucherKey(voucherKey(x)) === voucherKey(x)),
    { numRuns: 20_000 },
  )
  fc.assert(
    fc.property(anyCodePoints, (x) => voucherKey(voucherKey(x)) === voucherKey(x)),
    { numRuns: 20_000 },
  )
  t.pass('property held')
})

t.test('case does not count: key(upper(x)) = key(lower(x)) = key(x) (property)', async (t) => {
  for (const arb of [anyText, anyCodePoints]) {
    fc.assert(
      fc.property(arb, (x) => voucherKey(x.toUpperCase()) === voucherKey(x)),
      { numRuns: 20_000 },
    )
    fc.assert(
      fc.property(arb, (x) => voucherKey(x.toLowerCase()) === voucherKey(x)),
      { numRuns: 20_000 },
    )
  }
  t.pass('property held')
})

t.test('width, invisible characters and whitespace do not count (property)', async (t) => {
  const ascii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) })
  fc.assert(fc.property(ascii, (x) => voucherKey(fullWidth(x)) === voucherKey(x)))
  const withNoise = fc
    .tuple(anyText, fc.array(fc.tuple(fc.nat(), fc.constantFrom(...INVISIBLE, ...SPACE)), { maxLength: 6 }))
    .map(([x, noise]) => {
      const chars = [...x]
      for (const [at, c] of noise) chars.splice(at % (chars.length + 1), 0, c)
      return [x, chars.join('')] as const
    })
  fc.assert(
    fc.property(withNoise, ([x, noisy]) => voucherKey(noisy) === voucherKey(x)),
    { numRuns: 20_000 },
  )
  t.pass('property held')
})

t.test('lowercase ASCII without whitespace is its own key', async (t) => {
  const plain = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_/.#') })
  fc.assert(fc.property(plain, (x) => voucherKey(x) === x))
  t.pass('property held')
})

t.test('every code point: its key is a fixed point, and its upper case has the same key', async (t) => {
  const broken: string[] = []
  for (let c = 0; c <= 0x10ffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue
    const s = String.fromCodePoint(c)
    const key = voucherKey(s)
    if (voucherKey(key) !== key || voucherKey(s.toUpperCase()) !== key) broken.push(c.toString(16))
  }
  t.same(broken, [])
})
