import t from 'tap'
import { csvField, csvLine } from '../../src/csv-writer.js'

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
