/**
 * Writing CSV for spreadsheets (exports, reports): RFC 4180 quoting, CRLF line ends as Excel writes them,
 * and the guard against CSV formula injection.
 */

/** A CSV cell: text, a number, or null for an empty cell. */
export type CsvCell = string | number | null

/** The UTF-8 byte order mark: without it, Excel on Chinese Windows reads UTF-8 as GBK. */
export const UTF8_BOM = '\uFEFF'

/**
 * Text that gets the apostrophe: it starts with a character that makes Excel read a cell as a formula (CSV
 * injection), or with apostrophes before one — so that `withoutFormulaGuard` takes back exactly the one
 * apostrophe added, and text that itself starts with `'=` comes back unchanged.
 */
const NEEDS_GUARD = /^'*[=+\-@\t\r]/
/** A guarded cell: an apostrophe (ours), then whatever text needed it. */
const GUARDED = /^'+[=+\-@\t\r]/

/**
 * One CSV field: quoted when it holds a comma, quote or line break (RFC 4180); text starting with a
 * formula character gets a leading apostrophe so Excel shows it as text (the purchases import removes it
 * again). Numbers are written as they are: a negative number is a number, not a formula.
 */
export function csvField(value: CsvCell): string {
  if (value === null) return ''
  const text = String(value)
  const safe = typeof value === 'string' && NEEDS_GUARD.test(text) ? `'${text}` : text
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe
}

/** One CSV line, ending in CRLF. */
export function csvLine(values: readonly CsvCell[]): string {
  return `${values.map(csvField).join(',')}\r\n`
}

/** Undoes `csvField`'s guard when a file comes back: the apostrophe before a formula character goes. */
export function withoutFormulaGuard(text: string): string {
  return GUARDED.test(text) ? text.slice(1) : text
}
