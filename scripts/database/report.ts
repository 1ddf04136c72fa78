import type { CopyReport } from '../../src/db/copy.js'

/** The rows copied per table, one line each, on stderr (stdout stays for what a script promises to print). */
export function printCopy(title: string, report: CopyReport): void {
  console.error(title)
  for (const [table, rows] of Object.entries(report.rows)) console.error(`  ${table.padEnd(20)} ${rows} rows`)
}
