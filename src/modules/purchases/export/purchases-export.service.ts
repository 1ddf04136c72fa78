import { Readable } from 'node:stream'
import type { Principal } from '../../../auth/principal.js'
import { csvLine, UTF8_BOM } from '../../../csv-writer.js'
import { shanghaiToday } from '../../../dates.js'
import type { Database } from '../../../db/client.js'
import { scopeFilters } from '../purchases.domain.js'
import type { PurchaseFilters } from '../purchases.schemas.js'
import { EXPORT_COLUMNS } from '../purchases-columns.js'
import { type ExportRow, exportBatches } from './purchases-export.repository.js'
import { xlsxStream } from './xlsx-stream.js'

export const EXPORT_FORMATS = ['csv', 'xlsx'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
}

export interface ExportFile {
  filename: string
  contentType: string
  body: Readable
}

/** CSV: UTF-8 BOM (so Excel reads Chinese text correctly), English header, CRLF; one chunk per batch. */
async function* csvChunks(batches: AsyncIterable<ExportRow[]>): AsyncGenerator<string> {
  yield `${UTF8_BOM}${csvLine(EXPORT_COLUMNS)}`
  for await (const batch of batches) {
    let chunk = ''
    for (const row of batch) chunk += csvLine(row)
    yield chunk
  }
}

/** `purchases_2024_20240520.csv` (year filter, or `all`, and today's date in Asia/Shanghai). */
function exportFilename(filters: PurchaseFilters, format: ExportFormat, now: Date): string {
  return `purchases_${filters.year ?? 'all'}_${shanghaiToday(now).replace(/-/g, '')}.${format}`
}

export function createPurchasesExportService(deps: { database: Database; now: () => Date }) {
  return {
    /**
     * Opens the export: checks scope and reads the first batch before anything is sent, so a refused
     * request or a database error is still a problem+json answer; then streams the rest.
     */
    async export(
      principal: Principal,
      query: PurchaseFilters & { format: ExportFormat },
    ): Promise<ExportFile> {
      const { format, ...filters } = scopeFilters(principal, query)
      // exceljs is loaded on the first XLSX export only: it is large, and most servers never need it.
      const excel = format === 'xlsx' ? (await import('exceljs')).default : undefined
      const batches = exportBatches(deps.database, filters)
      const first = await batches.next()
      const rows = async function* () {
        if (first.done) return
        yield first.value
        yield* batches
      }
      const body = excel ? xlsxStream(excel, rows()) : Readable.from(csvChunks(rows()), { highWaterMark: 1 })
      // However the response ends (sent, client gone, stalled, error), no further page is read. Nothing is
      // held between pages (see exportBatches), so this only stops the work early.
      body.once('close', () => {
        batches.return(undefined).catch(() => {})
      })
      return {
        filename: exportFilename(filters, format, deps.now()),
        contentType: CONTENT_TYPES[format],
        body,
      }
    },
  }
}
