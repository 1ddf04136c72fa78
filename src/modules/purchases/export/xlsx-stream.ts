/**
 * The purchases export as an XLSX workbook, streamed through exceljs: rows are committed as they come and
 * the writer waits for deflate and the client, so memory holds about one batch whatever the row count.
 */
import type { Readable } from 'node:stream'
import { PassThrough } from 'node:stream'
import { CHANNEL_LABELS, type Channel } from '../../../schemas.js'
import { chineseTitle, EXPORT_COLUMNS, type ExportColumn, STATUS_LABELS } from '../purchases-columns.js'
import type { ExportRow } from './purchases-export.repository.js'

/** A sheet holds 1 048 576 rows; beyond that the export continues on a second sheet. */
const XLSX_ROWS_PER_SHEET = 1_048_575

const col = (name: ExportColumn) => EXPORT_COLUMNS.indexOf(name)
const AMOUNT = col('amount')
const OCCURRED_ON = col('occurred_on')
const YEAR = col('year')
const CHANNEL = col('channel')
const STATUS = col('status')

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

export type ExcelJs = typeof import('exceljs')
type WorkbookWriter = InstanceType<ExcelJs['stream']['xlsx']['WorkbookWriter']>

/** Sheet n (1-based) with its column widths and formats and a frozen header row of Chinese titles. */
function addSheet(workbook: WorkbookWriter, n: number) {
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

/**
 * Backpressure, so memory holds about one batch: waits while deflate is behind the rows, then while the
 * client is behind the zip; returns at once when the client has gone (`gone` resolved).
 */
async function caughtUp(sheet: unknown, out: PassThrough, gone: Promise<void>): Promise<void> {
  for (let backlog = zipBacklog(sheet); backlog && backlog.bytes > MiB && !out.destroyed; ) {
    await Promise.race([eventOrClose(backlog.stream, 'drain'), gone])
    backlog = zipBacklog(sheet)
  }
  if (out.writableNeedDrain && !out.destroyed) await eventOrClose(out, 'drain')
  await new Promise((resolve) => setImmediate(resolve))
}

/** Writes every row, a new sheet every XLSX_ROWS_PER_SHEET rows; stops early when the client has gone. */
async function writeWorkbook(
  workbook: WorkbookWriter,
  out: PassThrough,
  batches: AsyncIterable<ExportRow[]>,
) {
  const gone = eventOrClose(out, 'close')
  let sheets = 1
  let sheet = addSheet(workbook, sheets)
  let inSheet = 0
  for await (const batch of batches) {
    for (const row of batch) {
      if (inSheet === XLSX_ROWS_PER_SHEET) {
        sheet.commit()
        sheet = addSheet(workbook, ++sheets)
        inSheet = 0
      }
      sheet.addRow(xlsxValues(row)).commit()
      inSheet++
    }
    await caughtUp(sheet, out, gone)
    if (out.destroyed) return
  }
  sheet.commit()
  await workbook.commit()
}

/** XLSX through exceljs' streaming writer: rows are committed as they come, so memory holds a batch. */
export function xlsxStream(ExcelJS: ExcelJs, batches: AsyncIterable<ExportRow[]>): Readable {
  const out = new PassThrough()
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: out,
    useStyles: true,
    useSharedStrings: false,
  })
  writeWorkbook(workbook, out, batches).catch((err: Error) => out.destroy(err))
  return out
}
