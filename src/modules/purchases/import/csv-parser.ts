/**
 * The import's CSV parser: UTF-8 bytes in, rows of cells out, fed chunk by chunk. It reads CSV as csv-parse
 * does with `{ bom: true, relax_quotes: true, relax_column_count: true }` (what the import used before, and
 * what the tests compare it with):
 *
 * - cells are separated by commas; a UTF-8 byte-order mark at the start is skipped;
 * - rows end at the file's line end: the first CRLF, LF or CR met outside quotes decides which, and only
 *   that one ends rows after it (another is text in a cell); an empty line is a row of one empty cell;
 * - a cell that starts with a quote runs to its closing quote and may hold commas, line breaks and quotes
 *   written twice (""); a quote elsewhere is text, and so is a "closing" quote followed by anything but a
 *   comma or a line end (`"5" screen"` reads `"5" screen"`);
 * - rows may have any number of cells up to MAX_CELLS;
 * - errors: a quoted cell still open at the end of the file (the only one csv-parse knows), and the limits
 *   (a row of more than MAX_CELLS cells, a cell of more than MAX_CELL_BYTES bytes), which keep the memory a
 *   row takes bounded whatever the file: 64 MiB of commas would otherwise be a row of 64 million cells
 *   (it ran the server out of heap under `npm start`'s cap).
 *
 * Why not csv-parse: it builds an error (stack trace, JSON copy of the row) for every row whose cell count
 * differs from the first row's, even when told to accept them, so a blank line or a ragged row cost it
 * several times a normal one (a 4 MiB file of empty lines held the event loop 36 s). Here each row costs
 * its bytes (docs/performance.md).
 *
 * Work is bounded per call: `feed` a chunk, then call `next` until it answers undefined (the chunk is used
 * up), `end` after the last chunk, then `next` again for the last row. Cells are decoded from the bytes one by
 * one (fresh strings, which keep no chunk alive).
 */

const QUOTE = 0x22
const COMMA = 0x2c
const LF = 0x0a
const CR = 0x0d
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf])

/** The most cells a row may have: the most columns a spreadsheet has (Excel: A to XFD). */
export const MAX_CELLS = 16_384
/** The longest cell, in bytes: far above any field's limit (a 2 000-character note is at most 8 000). */
export const MAX_CELL_BYTES = 64 * 1024

/** Spreadsheet column letters: 0 → A, 26 → AA. */
export function columnLetter(index: number): string {
  let s = ''
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26))
    s = String.fromCharCode(65 + ((n - 1) % 26)) + s
  return s
}

/** The file cannot be read from this row on: a quote never closed, or a row or cell over the limits. */
export class CsvRowError extends Error {
  constructor(
    /** The row number (header = 1) where the problem starts. */
    readonly row: number,
    message: string,
  ) {
    super(message)
  }
}

type LineEnd = 'unknown' | 'lf' | 'cr' | 'crlf'

/** Length of the line end at `at` (0: none; -1: cannot tell before the next chunk). */
function lineEndLength(buf: Buffer, at: number, lineEnd: LineEnd, last: boolean): number {
  const c = buf[at]
  if (c !== CR && c !== LF) return 0
  if (lineEnd === 'lf') return c === LF ? 1 : 0
  if (lineEnd === 'cr') return c === CR ? 1 : 0
  if (lineEnd === 'crlf' && c !== CR) return 0
  if (lineEnd === 'unknown' && c === LF) return 1
  if (at + 1 >= buf.length) return last ? (lineEnd === 'crlf' ? 0 : 1) : -1
  if (buf[at + 1] === LF) return 2
  return lineEnd === 'crlf' ? 0 : 1
}

export class CsvParser {
  /** Rows completed: the number of the row `next` answered last. */
  rows = 0
  private buf: Buffer = Buffer.alloc(0)
  private pos = 0
  private last = false
  private first = true
  private lineEnd: LineEnd = 'unknown'
  /** The row being read. */
  private cells: string[] = []
  /** The cell being read: `prefix` (text decoded already), then earlier chunks' bytes, then buf[start, pos). */
  private prefix = ''
  private parts: Buffer[] = []
  private partsLength = 0
  private start = 0
  /** Inside a quoted cell; `escapes`: it holds doubled quotes. */
  private quoted = false
  private escapes = false
  /** The cell was quoted (so `""` alone at the end of the file is still a row). */
  private wasQuoted = false

  /** The next chunk of the file; call only once `next` has answered undefined. */
  feed(chunk: Buffer): void {
    if (this.start < this.pos) {
      this.parts.push(this.buf.subarray(this.start, this.pos))
      this.partsLength += this.pos - this.start
      this.checkCellLength(this.partsLength)
    }
    // A quote or a CR at the end of the last chunk waits for the byte after it.
    const held = this.buf.subarray(this.pos)
    this.buf = held.length > 0 ? Buffer.concat([held, chunk]) : chunk
    this.pos = 0
    this.start = 0
  }

  /** No more chunks: `next` reads the rest. */
  end(): void {
    this.feed(Buffer.alloc(0))
    this.last = true
  }

  /** The next complete row's cells, or undefined when the bytes fed so far hold none. */
  next(): string[] | undefined {
    if (this.first && !this.skipBom()) return undefined
    const { buf } = this
    const n = buf.length
    let i = this.pos
    while (i < n) {
      if (this.quoted) {
        const q = buf.indexOf(QUOTE, i)
        if (q === -1) {
          i = n
          break
        }
        i = q
        if (i + 1 >= n && !this.last) break
        if (buf[i + 1] === QUOTE) {
          this.escapes = true
          i += 2
          continue
        }
        const after = lineEndLength(buf, i + 1, this.lineEnd, this.last)
        if (after < 0) break
        this.closeQuote(i, i + 1 >= n || buf[i + 1] === COMMA || after > 0)
        i++
        continue
      }
      const c = buf[i]
      if (c === COMMA) {
        this.endCell(i)
        this.start = ++i
      } else if (c === CR || c === LF) {
        const length = lineEndLength(buf, i, this.lineEnd, this.last)
        if (length < 0) break
        if (length === 0) {
          i++
          continue
        }
        if (this.lineEnd === 'unknown') this.lineEnd = length === 2 ? 'crlf' : c === LF ? 'lf' : 'cr'
        this.endCell(i)
        this.start = this.pos = i + length
        return this.endRow()
      } else if (c === QUOTE && this.cellIsEmpty(i)) {
        this.quoted = true
        this.start = ++i
      } else i++
    }
    this.pos = i
    return this.last && i >= n ? this.lastRow(i) : undefined
  }

  /** Skips a byte-order mark at the start of the file; false while too few bytes came to tell. */
  private skipBom(): boolean {
    if (this.buf.length < UTF8_BOM.length && !this.last) return false
    if (this.buf.subarray(0, UTF8_BOM.length).equals(UTF8_BOM)) this.start = this.pos = UTF8_BOM.length
    this.first = false
    return true
  }

  /** A quote in a quoted cell, not doubled: it closes the cell, or (`closes` false) it is text. */
  private closeQuote(at: number, closes: boolean): void {
    this.quoted = false
    let text = this.segment(at)
    if (this.escapes) text = text.replaceAll('""', '"')
    this.prefix = closes ? text : `"${text}"`
    this.escapes = false
    this.wasQuoted = true
    this.start = at + 1
  }

  /** At the end of the file: the last row, when it has no line end. */
  private lastRow(at: number): string[] | undefined {
    if (this.quoted) {
      throw new CsvRowError(
        this.rows + 1,
        'not valid CSV: a quote opens a cell that is never closed (a cell that starts with " must end with "; write a " inside it as "")',
      )
    }
    if (this.cells.length === 0 && !this.wasQuoted && this.cellIsEmpty(at)) return undefined
    this.endCell(at)
    this.start = at
    return this.endRow()
  }

  private cellIsEmpty(at: number): boolean {
    return at === this.start && this.prefix === '' && this.parts.length === 0
  }

  /** The cell's bytes not decoded yet, up to `end`, decoded. */
  private segment(end: number): string {
    this.checkCellLength(this.prefix.length + this.partsLength + end - this.start)
    if (this.parts.length === 0) return this.buf.toString('utf8', this.start, end)
    const text = Buffer.concat([...this.parts, this.buf.subarray(this.start, end)]).toString('utf8')
    this.parts = []
    this.partsLength = 0
    return text
  }

  /** Refuses the cell being read once it is longer than MAX_CELL_BYTES (checked as its bytes come). */
  private checkCellLength(length: number): void {
    if (length <= MAX_CELL_BYTES) return
    const row = this.rows + 1
    const unclosed = this.quoted
      ? ' (or a quote that opens it is never closed: a cell that starts with " must end with ")'
      : ''
    throw new CsvRowError(
      row,
      `cell ${columnLetter(this.cells.length)}${row} is longer than 64 KiB, more than any column takes${unclosed}`,
    )
  }

  private endCell(end: number): void {
    if (this.cells.length === MAX_CELLS) {
      throw new CsvRowError(
        this.rows + 1,
        `row ${this.rows + 1} has more than ${MAX_CELLS} cells, the most a spreadsheet has (columns A to XFD)`,
      )
    }
    const rest = this.segment(end)
    this.cells.push(this.prefix === '' ? rest : this.prefix + rest)
    this.prefix = ''
    this.wasQuoted = false
  }

  private endRow(): string[] {
    const cells = this.cells
    this.cells = []
    this.rows++
    return cells
  }
}
