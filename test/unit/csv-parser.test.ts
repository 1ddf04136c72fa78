import { isDeepStrictEqual } from 'node:util'
import { parse } from 'csv-parse/sync'
import fc from 'fast-check'
import t from 'tap'
import {
  CsvParser,
  CsvRowError,
  MAX_CELL_BYTES,
  MAX_CELLS,
} from '../../src/modules/purchases/import/csv-parser.js'

/** Every row of `text`, fed to the parser in pieces cut at `cuts` (byte offsets). */
function rowsOf(text: string | Buffer, cuts: number[] = []): string[][] {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text
  const parser = new CsvParser()
  const rows: string[][] = []
  const drain = () => {
    for (let cells = parser.next(); cells; cells = parser.next()) {
      rows.push(cells)
      if (parser.rows !== rows.length) throw new Error(`row number ${parser.rows} for row ${rows.length}`)
    }
  }
  let from = 0
  for (const cut of [...cuts, bytes.length].sort((a, b) => a - b)) {
    parser.feed(bytes.subarray(from, Math.max(from, cut)))
    from = Math.max(from, cut)
    drain()
  }
  parser.end()
  drain()
  return rows
}

/** What csv-parse answers with the options the import used before. */
const oracle = (text: string): string[][] | 'error' => {
  try {
    return parse(text, { bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: false })
  } catch {
    return 'error'
  }
}

const ours = (text: string, cuts: number[] = []): string[][] | 'error' => {
  try {
    return rowsOf(text, cuts)
  } catch (err) {
    if (err instanceof CsvRowError) return 'error'
    throw err
  }
}

t.test('cells, quotes, line ends', async (t) => {
  t.same(
    rowsOf('a,b\r\nc,d\r\n'),
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
    'CRLF',
  )
  t.same(
    rowsOf('a,b\nc,d'),
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
    'LF, no line end at the end',
  )
  t.same(rowsOf('a\rb\r'), [['a'], ['b']], 'CR')
  t.same(rowsOf('a\r\nb\nc\r\n'), [['a'], ['b\nc']], 'after CRLF, a lone LF is text')
  t.same(rowsOf('"x, ""y""\r\nz",2\r\n'), [['x, "y"\r\nz', '2']], 'a quoted cell')
  t.same(rowsOf('5" screen,"a"b\n'), [['5" screen', '"a"b']], 'stray quotes are text')
  t.same(rowsOf('a,b\n\n,\n'), [['a', 'b'], [''], ['', '']], 'empty lines are rows')
  t.same(rowsOf('""'), [['']], 'a quoted empty cell at the end is a row')
  t.same(rowsOf(''), [], 'an empty file has no rows')
  t.same(rowsOf(Buffer.from('\ufeffa,b\n')), [['a', 'b']], 'a BOM is skipped')
  t.same(rowsOf('a,保山\n"市,某"\n', [5, 6, 13]), [['a', '保山'], ['市,某']], 'UTF-8 cut inside characters')
})

t.test('an unclosed quote is an error naming its row', async (t) => {
  const parser = new CsvParser()
  parser.feed(Buffer.from('a\nb\n"c,d\ne\n'))
  t.same([parser.next(), parser.next(), parser.next()], [['a'], ['b'], undefined])
  parser.end()
  const error = (() => {
    try {
      parser.next()
    } catch (err) {
      return err
    }
  })()
  t.type(error, CsvRowError)
  t.match(error, { row: 3, message: /never closed/ })
})

/** The error reading `text` gives (cut in 1 000-byte chunks), or undefined. */
function errorOf(text: string): CsvRowError | undefined {
  const bytes = Buffer.from(text)
  try {
    rowsOf(
      bytes,
      Array.from({ length: Math.floor(bytes.length / 1000) }, (_, i) => (i + 1) * 1000),
    )
  } catch (err) {
    if (err instanceof CsvRowError) return err
    throw err
  }
  return undefined
}

t.test('a row has at most MAX_CELLS cells, a cell at most MAX_CELL_BYTES bytes', async (t) => {
  const widest = ','.repeat(MAX_CELLS - 1)
  t.equal(rowsOf(`a\n${widest}\n`)[1]?.length, MAX_CELLS, 'the widest row')
  t.match(errorOf(`a\n${widest},\nb\n`), { row: 2, message: `row 2 has more than ${MAX_CELLS} cells` })
  t.match(errorOf(','.repeat(4 * 1024 * 1024)), { row: 1 }, '4 MiB of commas stop at the limit')
  const longest = 'x'.repeat(MAX_CELL_BYTES)
  t.equal(rowsOf(`a,${longest}\n`)[0]?.[1]?.length, MAX_CELL_BYTES, 'the longest cell')
  t.match(errorOf(`a,${longest}x\n`), {
    row: 1,
    message: /^cell B1 is longer than 64 KiB, more than any column takes$/,
  })
  t.match(errorOf(`a\n"${longest}""",b`), { row: 2, message: 'cell A2' }, 'quoted, over chunks')
  t.match(
    errorOf(`a\n"b\n${'c,d\n'.repeat(100_000)}`),
    { row: 2, message: /cell A2 is longer than 64 KiB.*a quote that opens it is never closed/ },
    'a quote never closed is refused once 64 KiB have gone by',
  )
  t.match(errorOf(`"${'保'.repeat(MAX_CELL_BYTES / 2)}"x`), { row: 1 }, 'quoted, then text after the quote')
})

t.test('reads what csv-parse reads, however the bytes are cut', async (t) => {
  const text = fc.string({
    unit: fc.constantFrom('a', 'b', ' ', ',', '"', '\r', '\n', '保', '\ufeff'),
    maxLength: 40,
  })
  fc.assert(
    fc.property(text, fc.array(fc.nat({ max: 120 }), { maxLength: 6 }), (s, cuts) => {
      const [actual, expected] = [ours(s, cuts), oracle(s)]
      if (isDeepStrictEqual(actual, expected)) return true
      t.strictSame(actual, expected, `${JSON.stringify(s)} cut at ${cuts}`)
      return false
    }),
    { numRuns: 20_000 },
  )
  t.pass('20 000 texts read alike')
})
