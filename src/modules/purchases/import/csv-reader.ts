/**
 * CSV as Excel writes and reads it: decoding (UTF-8 with or without BOM, GBK), parsing with csv-parse's
 * streaming API into spreadsheet rows, reading the header, normalising cells (writing is src/csv-writer.ts).
 * No database, no HTTP.
 */

import { isAscii, isUtf8 } from 'node:buffer'
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CsvError, parse } from 'csv-parse'
import iconv from 'iconv-lite'
import { withoutFormulaGuard } from '../../../csv-writer.js'
import { type FieldError, validationFailed } from '../../../errors.js'
import { CHANNEL_LABELS } from '../../../schemas.js'
import {
  ACCEPTED_HEADERS_TEXT,
  channelOfCell,
  columnOfHeader,
  type ExportColumn,
  IMPORT_FIELDS,
  type ImportField,
  REQUIRED_FIELDS,
  STATUS_LABELS,
} from '../purchases-columns.js'
import { Problems } from './import-problems.js'

export const CSV_ENCODINGS = ['utf-8', 'gbk'] as const
export type CsvEncoding = (typeof CSV_ENCODINGS)[number]

const GBK_HINT = 'if it was saved by Excel on Chinese Windows, add ?encoding=gbk'
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf])

/** Spreadsheet column letters: 0 → A, 26 → AA. */
function columnLetter(index: number): string {
  let s = ''
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26))
    s = String.fromCharCode(65 + ((n - 1) % 26)) + s
  return s
}

const lineOfOffset = (bytes: Buffer, offset: number) => {
  let line = 1
  for (let i = bytes.indexOf(0x0a); i !== -1 && i < offset; i = bytes.indexOf(0x0a, i + 1)) line++
  return line
}

/** The bytes a code point takes in UTF-8. */
const utf8Length = (cp: number) => (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4)

/**
 * Offset of the first byte that is not valid UTF-8 (only called when there is one). One pass: the decoded
 * text's characters before the first bad sequence are exactly the file's, so their UTF-8 lengths add up to
 * its offset; a U+FFFD is the bad sequence unless the file really holds one there (EF BF BD).
 */
function firstInvalidUtf8(bytes: Buffer): number {
  const text = bytes.toString('utf8') // each invalid sequence becomes U+FFFD
  let offset = 0
  for (const char of text) {
    const cp = char.codePointAt(0)!
    if (
      cp === 0xfffd &&
      !(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)
    ) {
      return offset
    }
    offset += utf8Length(cp)
  }
  return 0
}

const fileError = (message: string) =>
  validationFailed([{ path: '/', message }], `The file cannot be read: ${message}`)

/**
 * Checks that the bytes are text in the declared encoding, with messages that say what to do. Excel on
 * Chinese Windows saves GBK, which is never valid UTF-8 once it holds Chinese text; and UTF-8 read as GBK
 * turns into the familiar mojibake (渠道 → 娓犻亾), which we recognise before it happens.
 */
export function checkEncoding(bytes: Buffer, encoding: CsvEncoding): void {
  if (
    bytes.length >= 2 &&
    ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
  ) {
    throw fileError('file is UTF-16 (Excel "Unicode Text"); save it as "CSV UTF-8" or "CSV" instead')
  }
  if (encoding === 'utf-8') {
    if (!isUtf8(bytes)) {
      const at = firstInvalidUtf8(bytes)
      throw fileError(
        `file is not valid UTF-8 (first bad byte at offset ${at}, line ${lineOfOffset(bytes, at)}); ${GBK_HINT}`,
      )
    }
    return
  }
  if (bytes.subarray(0, 3).equals(UTF8_BOM)) {
    throw fileError('file starts with a UTF-8 byte-order mark, so it is UTF-8, not GBK; remove ?encoding=gbk')
  }
  // Valid UTF-8 with multi-byte characters is UTF-8: GBK text with Chinese characters practically never is.
  if (!isAscii(bytes) && isUtf8(bytes)) {
    throw fileError('file is UTF-8, not GBK (read as GBK it would be mojibake); remove ?encoding=gbk')
  }
}

/** Fails the stream at the first U+FFFD: a byte sequence GBK does not define. */
class ReplacementCharCheck extends Transform {
  private seen = 0
  constructor() {
    super({ decodeStrings: false, encoding: 'utf8' })
  }
  override _transform(chunk: string, _enc: BufferEncoding, done: TransformCallback) {
    const at = chunk.indexOf('\ufffd')
    if (at !== -1) {
      done(fileError(`file is not valid GBK (bad byte sequence near character ${this.seen + at})`))
      return
    }
    this.seen += chunk.length
    done(null, chunk)
  }
}

/** One spreadsheet row: its number as a spreadsheet shows it (header = 1) and its cells. */
export interface CsvRow {
  row: number
  cells: string[]
}

const CHUNK = 256 * 1024

/**
 * Streams a CSV file through csv-parse and hands each row to `onRow` (which may throw to stop). The row
 * number is the record's index + 1, the same as csv-parse's `info.records`: a cell with quoted line breaks
 * is one row, and an empty line is a row too (a spreadsheet shows it), so numbers match what Excel shows.
 *
 * When `onRow` returns a promise, the next row waits for it (backpressure: the parser pauses, so only a
 * bounded number of parsed rows exist at any time) and a rejection stops the file like a throw. Return a
 * promise only now and then (e.g. once per chunk of rows): a promise per row would be slow.
 */
export async function forEachCsvRow(
  bytes: Buffer,
  encoding: CsvEncoding,
  onRow: (row: CsvRow) => void | Promise<void>,
): Promise<void> {
  const chunks = function* () {
    for (let i = 0; i < bytes.length; i += CHUNK) yield bytes.subarray(i, i + CHUNK)
  }
  const source = Readable.from(chunks(), { objectMode: false })
  const decode: Transform[] =
    encoding === 'gbk' ? [iconv.decodeStream('gbk') as unknown as Transform, new ReplacementCharCheck()] : []
  const parser = parse({
    bom: true,
    // Column counts are checked by the caller, with messages naming the row.
    relax_column_count: true,
    // A stray quote inside an unquoted cell (5" screen) is kept as text rather than failing the file.
    relax_quotes: true,
    skip_empty_lines: false,
  })
  let row = 0
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 1024,
    write(cells: string[], _encoding, done) {
      let pending: void | Promise<void>
      try {
        pending = onRow({ row: ++row, cells })
      } catch (err) {
        done(err as Error)
        return
      }
      if (pending) pending.then(() => done(), done)
      else done()
    },
  })
  try {
    await pipeline([source, ...decode, parser, sink])
  } catch (err) {
    if (err instanceof CsvError) {
      // The parser's own count: it may be ahead of `row` (records still queued for onRow).
      const parsed = (err as CsvError & { records?: number }).records ?? row
      throw validationFailed([{ path: `/rows/${parsed + 1}`, message: `not valid CSV: ${err.message}` }])
    }
    throw err
  }
}

/** What the header row says: which cell index holds which column. */
export interface CsvHeader {
  /** field → cell index, for the create-body fields present. */
  fields: Partial<Record<ImportField, number>>
  /** The same as [field, cell index] pairs, in field order (the per-row loop walks this). */
  present: [ImportField, number][]
  /** Cell index of the export's `status` column, when present (voided rows are refused). */
  status?: number
  /** Number of header cells that name a column (trailing empty header cells are not counted). */
  width: number
  /** Cell indexes with an empty header in the middle: they must stay empty. */
  unnamed: number[]
}

const MOJIBAKE_SOURCES = ['gbk', 'latin1', 'win1252'] as const

/** "looks like 渠道 read in the wrong encoding" when a header is mojibake of a known one. */
function mojibakeHint(header: string): string | undefined {
  for (const enc of MOJIBAKE_SOURCES) {
    const bytes = iconv.encode(header, enc)
    if (!isUtf8(bytes)) continue
    const original = bytes.toString('utf8')
    if (original !== header && columnOfHeader(original)) {
      return `it looks like "${original}" garbled by a wrong encoding: the file was UTF-8 but was opened or saved as ${enc === 'gbk' ? 'GBK' : 'Latin-1/Windows-1252'} somewhere on the way; export it again as "CSV UTF-8"`
    }
  }
  return undefined
}

/** Reads the header row; 400 naming every unknown, duplicate or missing column at `/rows/1/<header>`. */
export function readHeader(cells: string[], opts: { orgIdRequired: boolean }): CsvHeader {
  // Capped: a header of 400 000 bad columns must not build 400 000 messages (nor 400 000 mojibake guesses).
  const errors = new Problems()
  const fields: Partial<Record<ImportField, number>> = {}
  const exportOnly: Partial<Record<ExportColumn, number>> = {}
  let width = cells.length
  while (width > 0 && cells[width - 1]!.trim() === '') width--
  const unnamed: number[] = []
  const seen = new Map<ExportColumn, string>()
  for (let i = 0; i < width; i++) {
    const header = cells[i]!
    const name = header.trim()
    if (name === '') {
      unnamed.push(i)
      continue
    }
    const column = columnOfHeader(name)
    if (!column) {
      errors.add({
        path: `/rows/1/${name}`,
        message: `unknown column in ${columnLetter(i)}1; ${(errors.full ? undefined : mojibakeHint(name)) ?? `accepted headers: ${ACCEPTED_HEADERS_TEXT}`}`,
      })
      continue
    }
    const earlier = seen.get(column)
    if (earlier !== undefined) {
      errors.add({
        path: `/rows/1/${name}`,
        message: `duplicate column: ${columnLetter(i)}1 "${name}" and "${earlier}" both mean ${column}`,
      })
      continue
    }
    seen.set(column, name)
    if ((IMPORT_FIELDS as readonly string[]).includes(column)) fields[column as ImportField] = i
    else exportOnly[column] = i
  }
  const required = opts.orgIdRequired ? [...REQUIRED_FIELDS, 'org_id' as const] : REQUIRED_FIELDS
  for (const field of required) {
    if (fields[field] === undefined) {
      errors.add({
        path: `/rows/1/${field}`,
        message:
          field === 'org_id'
            ? 'required column missing: admin keys must give org_id per row, or ?org_id= for the whole file'
            : `required column missing (${field} or its Chinese header)`,
      })
    }
  }
  if (errors.count > 0) {
    const more = errors.count > errors.list.length ? `; the first ${errors.list.length} are listed` : ''
    throw validationFailed(errors.list, `The header row has ${errors.count} problem(s)${more}.`)
  }
  const present = IMPORT_FIELDS.flatMap((f) =>
    fields[f] === undefined ? [] : [[f, fields[f]] as [ImportField, number]],
  )
  return { fields, present, status: exportOnly.status, width, unnamed }
}

/** "1,234,567.89" → "1234567.89" when the grouping is well-formed; undefined otherwise. */
function stripThousands(cell: string): string | undefined {
  return /^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]{1,2})?$/.test(cell) ? cell.replace(/,/g, '') : undefined
}

/** "2024/5/20", "2024-5-20", "2024.05.20" (what Excel writes for a date cell) → "2024-05-20". */
function normalizeDate(cell: string): string {
  const m = /^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})$/.exec(cell)
  return m ? `${m[1]}-${m[2]!.padStart(2, '0')}-${m[3]!.padStart(2, '0')}` : cell
}

/** Excel shows a long digit string typed into a General cell as 2.45E+19, and saves it that way. */
const SCIENTIFIC = /^[0-9](\.[0-9]+)?E\+[0-9]+$/i

/**
 * One data row → a create-body object (empty cells are absent fields) plus problems found in the cells
 * themselves (the schema checks come after). Returns undefined for a row with every cell empty.
 */
export function rowToInput(
  { row, cells }: CsvRow,
  header: CsvHeader,
): { input: Record<string, string>; errors: FieldError[] } | undefined {
  // This runs for every row of a 100 000-row file: plain loops, no closures.
  let blank = true
  for (let i = 0; i < cells.length && blank; i++) blank = !NON_BLANK.test(cells[i]!)
  if (blank) return undefined
  const errors: FieldError[] = []
  for (let i = header.width; i < cells.length; i++) {
    if (NON_BLANK.test(cells[i]!)) {
      errors.push({
        path: `/rows/${row}`,
        message: `cell ${columnLetter(i)}${row} has data but the header has only ${header.width} columns`,
      })
      break
    }
  }
  // header.unnamed is ascending: a row is checked only as far as its own cells go, so a header of many
  // unnamed columns costs each row no more than its length.
  for (const i of header.unnamed) {
    if (i >= cells.length) break
    if (NON_BLANK.test(cells[i]!)) {
      errors.push({
        path: `/rows/${row}`,
        message: `cell ${columnLetter(i)}${row} has data but its column has no header`,
      })
    }
  }
  if (header.status !== undefined) {
    const status = (cells[header.status] ?? '').trim().toLowerCase()
    if (status !== '' && status !== 'active' && status !== STATUS_LABELS.active) {
      errors.push({
        path: `/rows/${row}/status`,
        message:
          status === 'voided' || status === STATUS_LABELS.voided
            ? 'a voided record cannot be imported (export with status=active, or delete the row)'
            : 'must be active (or empty)',
      })
    }
  }
  const input: Record<string, string> = {}
  for (const [field, index] of header.present) {
    const value = (cells[index] ?? '').trim()
    if (value === '') continue
    const normal = normalizeCell(field, withoutFormulaGuard(value))
    if (typeof normal !== 'string') {
      errors.push({ path: `/rows/${row}/${field}`, message: normal.problem })
      continue
    }
    input[field] = normal
  }
  return { input, errors }
}

const NON_BLANK = /\S/
const CHANNEL_HINT = `must be one of ${Object.entries(CHANNEL_LABELS)
  .map(([code, label]) => `${code} (${label})`)
  .join(', ')}`

/** A cell with the CSV-only spellings made canonical (separators, labels, Excel dates), or why it cannot be. */
function normalizeCell(field: ImportField, raw: string): string | { problem: string } {
  switch (field) {
    case 'amount': {
      if (!raw.includes(',')) return raw
      return (
        stripThousands(raw) ?? {
          problem: 'thousands separators must group by three digits, e.g. "1,234,567.50"',
        }
      )
    }
    case 'channel':
      return channelOfCell(raw) ?? { problem: CHANNEL_HINT }
    case 'occurred_on':
      return normalizeDate(raw)
    case 'voucher_no':
    case 'external_ref':
      return SCIENTIFIC.test(raw)
        ? {
            problem: `"${raw}" looks like a number Excel shortened; format the column as Text and enter the full number`,
          }
        : raw
    default:
      return raw
  }
}
