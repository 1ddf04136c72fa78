import { PassThrough, Readable } from 'node:stream'
import type { Principal } from '../../auth/principal.js'
import { shanghaiToday } from '../../dates.js'
import type { Database } from '../../db/client.js'
import { CHANNEL_LABELS, type Channel } from '../../schemas.js'
import type { PurchaseFilters } from './purchases.schemas.js'
import { scopeFilters } from './purchases.service.js'
import { chineseTitle, EXPORT_COLUMNS, type ExportColumn, STATUS_LABELS } from './purchases-columns.js'
import { csvLine } from './purchases-csv.js'
import { type ExportRow, exportBatches } from './purchases-export.repository.js'

export const EXPORT_FORMATS = ['csv', 'xlsx'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
}

/** A sheet holds 1 048 576 rows; beyond that the export continues on a second sheet. */
export const XLSX_ROWS_PER_SHEET = 1_048_575

export interface ExportFile {
  filename: string
  contentType: string
  body: Readable
}

const col = (name: ExportColumn) => EXPORT_COLUMNS.indexOf(name)
const AMOUNT = col('amount')
const OCCURRED_ON = col('occurred_on')
const YEAR = col('year')
const CHANNEL = col('channel')
const STATUS = col('status')

/** CSV: UTF-8 BOM (so Excel reads Chinese text correctly), English header, CRLF; one chunk per batch. */
async function* csvChunks(batches: AsyncIterable<ExportRow[]>): AsyncGenerator<string> {
  yield `\ufeff${csvLine(EXPORT_COLUMNS)}`
  for await (const batch of batches) {
    let chunk = ''
    for (const row of batch) chunk += csvLine(row)
    yield chunk
  }
}

/** Excel column widths (characters) and cell formats by column. */
const XLSX_COLUMNS: Partial<Record<ExportColumn, { width: number; numFmt?: string }>> = {
  id: { width: 38 },
  channel: { width: 10 },
  amount: { width: 18, numFmt: '#,##0.00' },
  occurred_on: { width: 12, numFmt: 'yyyy-mm-dd' },
  org_id: { width: 38 },
  supplier: { width: 30 },
  supplier_credit_code: { width: 20 },
  product: { width: 24 },
  voucher_no: { width: 22 },
  note: { width: 30 },
  created_at: { width: 26 },
  voided_at: { width: 26 },
  void_reason: { width: 24 },
}

/**
 * XLSX cells: the amount is a number (Excel has no decimal type; every amount up to 9 999 999 999.99 is held
 * to the fen), the date a date, the year a number, channel and status their Chinese labels; the rest text.
 */
function xlsxValues(row: ExportRow): unknown[] {
  return row.map((value, i) => {
    if (value === null) return null
    if (i === AMOUNT || i === YEAR) return Number(value)
    if (i === OCCURRED_ON) return new Date(`${value}T00:00:00Z`)
    if (i === CHANNEL) return CHANNEL_LABELS[value as Channel] ?? value
    if (i === STATUS) return STATUS_LABELS[value as keyof typeof STATUS_LABELS] ?? value
    return value
  })
}

const MiB = 1024 * 1024

/** Resolves on `event` or when the stream closes, whichever comes first. */
const eventOrClose = (stream: NodeJS.EventEmitter, event: string) =>
  new Promise<void>((resolve) => {
    const done = () => {
      stream.off(event, done)
      stream.off('close', done)
      resolve()
    }
    stream.on(event, done)
    stream.on('close', done)
  })

/**
 * Bytes a sheet has handed to the zip writer that the zip writer has not compressed yet. exceljs writes to
 * its zip entry without waiting (it ignores `write()` returning false), so a producer faster than deflate
 * piles rows up in memory; this reads the entry stream's buffer (exceljs 4 / archiver internals), and is
 * undefined if that ever changes, in which case the caller only yields to the event loop.
 */
function zipBacklog(sheet: unknown): { bytes: number; stream: NodeJS.EventEmitter } | undefined {
  const entry = (sheet as { stream?: { pipes?: unknown[] } }).stream?.pipes?.[0] as
    | (NodeJS.EventEmitter & { _writableState?: { length?: number } })
    | undefined
  const bytes = entry?._writableState?.length
  return entry && typeof bytes === 'number' ? { bytes, stream: entry } : undefined
}

type ExcelJs = typeof import('exceljs')

/** XLSX through exceljs' streaming writer: rows are committed as they come, so memory holds a batch. */
function xlsxStream(ExcelJS: ExcelJs, batches: AsyncIterable<ExportRow[]>): Readable {
  const out = new PassThrough()
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: out,
    useStyles: true,
    useSharedStrings: false,
  })
  const addSheet = (n: number) => {
    const sheet = workbook.addWorksheet(n === 1 ? '采购记录' : `采购记录 ${n}`, {
      views: [{ state: 'frozen', ySplit: 1 }],
    })
    sheet.columns = EXPORT_COLUMNS.map((c) => ({
      key: c,
      width: XLSX_COLUMNS[c]?.width ?? 14,
      style: XLSX_COLUMNS[c]?.numFmt ? { numFmt: XLSX_COLUMNS[c].numFmt } : {},
    }))
    const header = sheet.addRow(EXPORT_COLUMNS.map(chineseTitle))
    header.font = { bold: true }
    header.commit()
    return sheet
  }
  const gone = eventOrClose(out, 'close')
  const write = async () => {
    let sheets = 1
    let sheet = addSheet(sheets)
    let inSheet = 0
    for await (const batch of batches) {
      for (const row of batch) {
        if (inSheet === XLSX_ROWS_PER_SHEET) {
          sheet.commit()
          sheet = addSheet(++sheets)
          inSheet = 0
        }
        sheet.addRow(xlsxValues(row)).commit()
        inSheet++
      }
      // Backpressure, so memory holds about one batch: wait while deflate is behind the rows, then while the
      // client is behind the zip; stop when the client has gone.
      for (let backlog = zipBacklog(sheet); backlog && backlog.bytes > MiB && !out.destroyed; ) {
        await Promise.race([eventOrClose(backlog.stream, 'drain'), gone])
        backlog = zipBacklog(sheet)
      }
      if (out.writableNeedDrain && !out.destroyed) await eventOrClose(out, 'drain')
      await new Promise((resolve) => setImmediate(resolve))
      if (out.destroyed) return
    }
    sheet.commit()
    await workbook.commit()
  }
  write().catch((err: Error) => out.destroy(err))
  return out
}

/** `purchases_2024_20240520.csv` (year filter, or `all`, and today's date in Asia/Shanghai). */
export function exportFilename(filters: PurchaseFilters, format: ExportFormat, now: Date): string {
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
      // However the response ends (sent, client gone, error), the cursor closes and its connection goes
      // back to the pool: return() on a generator paused at a yield runs its finally block.
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
