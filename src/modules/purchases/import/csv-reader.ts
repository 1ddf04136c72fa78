/**
 * CSV as Excel writes and reads it: decoding (UTF-8 with or without BOM, GBK), parsing (csv-parser.ts) into
 * spreadsheet rows in slices that let other requests run, reading the header, normalising cells (writing is
 * src/csv-writer.ts). No database, no HTTP.
 */

import { isAscii, isUtf8 } from 'node:buffer'
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
import { CpuSlices } from './cpu-slices.js'
import { CsvParser, CsvRowError, columnLetter } from './csv-parser.js'
import { Problems } from './import-problems.js'

export const CSV_ENCODINGS = ['utf-8', 'gbk'] as const
export type CsvEncoding = (typeof CSV_ENCODINGS)[number]

const GBK_HINT = 'if it was saved by Excel on Chinese Windows, add ?encoding=gbk'
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf])

/** Bytes checked between two chances to yield, when looking for a bad byte. */
const WINDOW = 64 * 1024

/** The line (1-based) of a byte offset: the LF bytes before it, counted a window at a time. */
async function lineOfOffset(bytes: Buffer, offset: number, slices: CpuSlices): Promise<number> {
  let line = 1
  for (let start = 0; start < offset; start += WINDOW) {
    const end = Math.min(offset, start + WINDOW)
    for (let i = start; i < end; i++) if (bytes[i] === 0x0a) line++
    if (slices.due()) await slices.pause()
  }
  return line
}

/** The bytes a code point takes in UTF-8. */
const utf8Length = (cp: number) => (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4)

/**
 * Offset of the first byte of `bytes` that is not valid UTF-8 (only called when there is one). The decoded
 * text's characters before the first bad sequence are exactly the bytes', so their UTF-8 lengths add up to
 * its offset; a U+FFFD is the bad sequence unless the bytes really hold one there (EF BF BD).
 */
function firstInvalidIn(bytes: Buffer): number {
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

/**
 * Offset of the file's first byte that is not valid UTF-8 (only called when there is one), a window at a
 * time: the first window that is not valid UTF-8 holds it. Windows are cut where a character starts (a
 * continuation byte, 10xxxxxx, does not; a character has at most three), so no valid character is split.
 */
async function firstInvalidUtf8(bytes: Buffer, slices: CpuSlices): Promise<number> {
  for (let start = 0; start < bytes.length; ) {
    let end = Math.min(start + WINDOW, bytes.length)
    for (let k = 0; k < 3 && end < bytes.length && (bytes[end]! & 0xc0) === 0x80; k++) end++
    const window = bytes.subarray(start, end)
    if (!isUtf8(window)) return start + firstInvalidIn(window)
    start = end
    if (slices.due()) await slices.pause()
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
export async function checkEncoding(bytes: Buffer, encoding: CsvEncoding): Promise<void> {
  if (
    bytes.length >= 2 &&
    ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
  ) {
    throw fileError('file is UTF-16 (Excel "Unicode Text"); save it as "CSV UTF-8" or "CSV" instead')
  }
  if (encoding === 'utf-8') {
    if (!isUtf8(bytes)) {
      const slices = new CpuSlices()
      const at = await firstInvalidUtf8(bytes, slices)
      const line = await lineOfOffset(bytes, at, slices)
      throw fileError(`file is not valid UTF-8 (first bad byte at offset ${at}, line ${line}); ${GBK_HINT}`)
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

/** One spreadsheet row: its number as a spreadsheet shows it (header = 1) and its cells. */
export interface CsvRow {
  row: number
  cells: string[]
}

/** Bytes parsed at a time: the parser's work between two chances to yield is bounded by this. */
const CHUNK = 64 * 1024

/** The file as UTF-8 chunks: slices of it, or for GBK, decoded slice by slice (refused at a bad sequence). */
function* utf8Chunks(bytes: Buffer, encoding: CsvEncoding): Generator<Buffer> {
  if (encoding === 'utf-8') {
    for (let i = 0; i < bytes.length; i += CHUNK) yield bytes.subarray(i, i + CHUNK)
    return
  }
  const decoder = iconv.getDecoder('gbk')
  let seen = 0
  const checked = (text: string) => {
    const at = text.indexOf('\ufffd')
    if (at !== -1) throw fileError(`file is not valid GBK (bad byte sequence near character ${seen + at})`)
    seen += text.length
    return Buffer.from(text)
  }
  for (let i = 0; i < bytes.length; i += CHUNK) yield checked(decoder.write(bytes.subarray(i, i + CHUNK)))
  yield checked(decoder.end() ?? '')
}

/**
 * Parses a CSV file (see CsvParser) and hands each row to `onRow` (which may throw to stop). The row number
 * counts rows as a spreadsheet shows them: a cell with quoted line breaks is one row, and an empty line is a
 * row too, so numbers match what Excel shows.
 *
 * When `onRow` returns a promise, the next row waits for it (so only a bounded number of rows exist at
 * any time) and a rejection stops the file like a throw. Return a promise only now and then (e.g. once
 * per chunk of rows): a promise per row would be slow.
 *
 * The parsing and `onRow`'s work run in `slices`, with a turn of the event loop between them, so other
 * requests (and /healthz) are answered while a large file is read.
 */
export async function forEachCsvRow(
  bytes: Buffer,
  encoding: CsvEncoding,
  onRow: (row: CsvRow) => void | Promise<void>,
  slices = new CpuSlices(),
): Promise<void> {
  const parser = new CsvParser()
  const rows = async () => {
    for (let cells = parser.next(); cells; cells = parser.next()) {
      const pending = onRow({ row: parser.rows, cells })
      if (pending) await pending
      if (slices.due()) await slices.pause()
    }
    if (slices.due()) await slices.pause()
  }
  try {
    for (const chunk of utf8Chunks(bytes, encoding)) {
      parser.feed(chunk)
      await rows()
    }
    parser.end()
    await rows()
  } catch (err) {
    if (err instanceof CsvRowError) {
      throw validationFailed([{ path: `/rows/${err.row}`, message: err.message }])
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
