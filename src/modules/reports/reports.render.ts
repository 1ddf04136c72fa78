/**
 * The monthly report as files: CSV (UTF-8 with BOM, Chinese and English labels, CRLF, so Excel on Chinese
 * Windows opens it correctly) and XLSX (exceljs, Chinese labels). Same figures as the JSON report.
 */
import type ExcelJS from 'exceljs'
import { type CsvCell, csvLine, UTF8_BOM } from '../../csv-writer.js'
import { fenOfFormatted, formatMoney } from '../../money.js'
import { CHANNEL_LABELS } from '../../schemas.js'
import type { MonthlyReport } from './reports.schemas.js'

/** Report figures are sums: their amounts may exceed any one record's (10 integer digits). */
const sumMoney = (values: string[]) => values.reduce((sum, v) => sum + fenOfFormatted(v), 0n)

const title = (r: MonthlyReport) =>
  `每月一报 ${r.year}年${r.month}月 Monthly report ${r.year}-${String(r.month).padStart(2, '0')}`

const CSV_HEADERS = {
  channels: [
    '渠道代码 Channel code',
    '渠道 Channel',
    '本月金额（元） Month amount (CNY)',
    '本月笔数 Month count',
    '年度累计金额（元） YTD amount (CNY)',
    '年度累计笔数 YTD count',
    '年度目标（元） Target (CNY)',
    '完成进度 Progress',
  ],
  regions: [
    '地区代码 Region code',
    '县区 County',
    '本月市场销售（元） Month market sales (CNY)',
    '年度累计市场销售（元） YTD market sales (CNY)',
    '目标（元） Target (CNY)',
    '完成进度 Progress',
  ],
  canteen: [
    '单位编号 Org ID',
    '预算单位 Budget unit',
    '预留额（元） Reserved (CNY)',
    '已采购（元） Purchased (CNY)',
  ],
} as const

const TOTAL_LABEL = '合计 Total'

/** The rows of each table, money as exact decimal strings, progress as the JSON number (null = empty). */
function tables(r: MonthlyReport) {
  const channels: CsvCell[][] = r.channels.map((c) => [
    c.channel,
    CHANNEL_LABELS[c.channel],
    c.month_amount,
    c.month_count,
    c.ytd_amount,
    c.ytd_count,
    c.target,
    c.progress,
  ])
  channels.push([
    TOTAL_LABEL,
    '',
    formatMoney(sumMoney(r.channels.map((c) => c.month_amount))),
    r.channels.reduce((n, c) => n + c.month_count, 0),
    formatMoney(sumMoney(r.channels.map((c) => c.ytd_amount))),
    r.channels.reduce((n, c) => n + c.ytd_count, 0),
    null,
    null,
  ])
  const regions: CsvCell[][] = r.regions.map((g) => [
    g.region_code,
    g.name,
    g.month_amount,
    g.ytd_amount,
    g.target,
    g.progress,
  ])
  const canteen: CsvCell[][] = r.canteen_units_below.map((u) => [
    u.org_id,
    u.org_name,
    u.reserved,
    u.purchased,
  ])
  return { channels, regions, canteen }
}

export function renderCsv(r: MonthlyReport): Buffer {
  const t = tables(r)
  const lines: CsvCell[][] = [
    [title(r)],
    [],
    ['一、分渠道 By channel'],
    [...CSV_HEADERS.channels],
    ...t.channels,
    [],
    ['二、市场销售分县 Market sales by county'],
    [...CSV_HEADERS.regions],
    ...t.regions,
    [],
    ['三、食堂预留未达标单位 Canteen units below their reserved share'],
    [...CSV_HEADERS.canteen],
    ...t.canteen,
  ]
  return Buffer.from(`${UTF8_BOM}${lines.map(csvLine).join('')}`, 'utf8')
}

const XLSX_SHEETS = {
  channels: '分渠道',
  regions: '市场销售分县',
  canteen: '食堂预留未达标单位',
} as const

const XLSX_HEADERS = {
  channels: [
    '渠道代码',
    '渠道',
    '本月金额（元）',
    '本月笔数',
    '年度累计金额（元）',
    '年度累计笔数',
    '年度目标（元）',
    '完成进度',
  ],
  regions: ['地区代码', '县区', '本月市场销售（元）', '年度累计市场销售（元）', '目标（元）', '完成进度'],
  canteen: ['单位编号', '预算单位', '预留额（元）', '已采购（元）'],
} as const

/** Amounts below 10^13 yuan (15 significant digits) survive a double exactly to the fen, so they are numbers. */
const EXACT_AS_NUMBER = 10n ** 15n

/**
 * Excel cells: money as numbers formatted `#,##0.00` (so they can be summed), progress as a percentage.
 * Which columns are money or progress is given per table.
 */
function addSheet(
  wb: ExcelJS.Workbook,
  name: string,
  heading: string,
  headers: readonly string[],
  rows: CsvCell[][],
  kinds: readonly ('text' | 'int' | 'money' | 'ratio')[],
) {
  const ws = wb.addWorksheet(name)
  ws.addRow([heading]).font = { bold: true }
  ws.addRow([...headers]).font = { bold: true }
  for (const row of rows) {
    const added = ws.addRow(
      row.map((v, i) => {
        if (v === null) return null
        if (kinds[i] === 'money' && typeof v === 'string' && v !== '') {
          const fen = fenOfFormatted(v)
          return fen < EXACT_AS_NUMBER ? Number(v) : v
        }
        return v
      }),
    )
    kinds.forEach((k, i) => {
      const cell = added.getCell(i + 1)
      if (k === 'money') cell.numFmt = '#,##0.00'
      if (k === 'ratio') cell.numFmt = '0.00%'
    })
  }
  ws.columns.forEach((col, i) => {
    col.width = kinds[i] === 'text' ? (i === 0 ? 38 : 24) : 20
  })
  ws.views = [{ state: 'frozen', ySplit: 2 }]
}

export async function renderXlsx(r: MonthlyReport): Promise<Buffer> {
  const t = tables(r)
  // Loaded on first use: exceljs adds ~18 MB to every process that imports it.
  const { default: Excel } = await import('exceljs')
  const wb = new Excel.Workbook()
  wb.creator = 'assistance-procurement-tracker'
  wb.title = title(r)
  const heading = `每月一报 ${r.year}年${r.month}月`
  addSheet(
    wb,
    XLSX_SHEETS.channels,
    heading,
    XLSX_HEADERS.channels,
    t.channels.map((row, i) => (i === t.channels.length - 1 ? ['合计', ...row.slice(1)] : row)),
    ['text', 'text', 'money', 'int', 'money', 'int', 'money', 'ratio'],
  )
  addSheet(wb, XLSX_SHEETS.regions, heading, XLSX_HEADERS.regions, t.regions, [
    'text',
    'text',
    'money',
    'money',
    'money',
    'ratio',
  ])
  addSheet(wb, XLSX_SHEETS.canteen, heading, XLSX_HEADERS.canteen, t.canteen, [
    'text',
    'text',
    'money',
    'money',
  ])
  return Buffer.from(await wb.xlsx.writeBuffer())
}
