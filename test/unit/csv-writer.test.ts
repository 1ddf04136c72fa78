import fc from 'fast-check'
import t from 'tap'
import { csvField, csvLine, withoutFormulaGuard } from '../../src/csv-writer.js'

t.test('plain values are written as they are', async (t) => {
  t.equal(csvField('闵行区总工会'), '闵行区总工会')
  t.equal(csvField('125000.50'), '125000.50')
  t.equal(csvField(42), '42')
  t.equal(csvField(0.1234), '0.1234')
  t.equal(csvField(''), '')
  t.equal(csvField(null), '')
})

t.test('commas, quotes and line breaks are quoted (RFC 4180)', async (t) => {
  t.equal(csvField('a,b'), '"a,b"')
  t.equal(csvField('say "hi"'), '"say ""hi"""')
  t.equal(csvField('two\nlines'), '"two\nlines"')
  t.equal(csvField('cr\rlf'), '"cr\rlf"')
})

t.test('text Excel would run as a formula gets a leading apostrophe', async (t) => {
  for (const start of ['=', '+', '-', '@', '\t']) {
    t.equal(csvField(`${start}1+1`), `'${start}1+1`, JSON.stringify(start))
  }
  t.equal(csvField('=HYPERLINK("http://x","y")'), `"'=HYPERLINK(""http://x"",""y"")"`, 'guarded, then quoted')
  t.equal(csvField('\rcmd'), `"'\rcmd"`, 'a leading CR is guarded and quoted')
  t.equal(csvField('a=b'), 'a=b', 'only a leading formula character counts')
})

t.test('numbers are never guarded, negative ones included', async (t) => {
  t.equal(csvField(-5), '-5')
  t.equal(csvField('-5'), "'-5", 'the same text is guarded')
})

t.test('a line joins its fields with commas and ends in CRLF', async (t) => {
  t.equal(csvLine(['a', 1, null, 'b,c']), 'a,1,,"b,c"\r\n')
  t.equal(csvLine([]), '\r\n', 'an empty line')
})

/** A field as a spreadsheet's CSV reader gives it back: unquoted, doubled quotes undone. */
const unquote = (field: string) => (field.startsWith('"') ? field.slice(1, -1).replaceAll('""', '"') : field)

t.test('what the guard adds, withoutFormulaGuard takes back: text comes home unchanged', async (t) => {
  for (const text of ["'=SUM(A1)", "''+1", "'@x", "'plain", "'", '=1', 'a', "'-"]) {
    t.equal(withoutFormulaGuard(unquote(csvField(text))), text, JSON.stringify(text))
  }
  t.equal(csvField("'=SUM(A1)"), "''=SUM(A1)", 'text that starts with apostrophes before = is guarded too')
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom("'", '=', '+', '-', '@', '\t', 'a', ',', '"', '1') }),
      (s) => {
        return withoutFormulaGuard(unquote(csvField(s))) === s
      },
    ),
    { numRuns: 2000 },
  )
})

t.test('withoutFormulaGuard leaves a lone apostrophe before ordinary text alone', async (t) => {
  t.equal(withoutFormulaGuard("'123"), "'123")
  t.equal(withoutFormulaGuard("'=1"), '=1', "a hand-typed '= is read as Excel shows it")
})
