/**
 * The columns of a purchase in files: the English names (CSV header, create-body field names), the Chinese
 * titles (XLSX header) and every header an import accepts for each, per shared/domain.md.
 */
import { CHANNEL_LABELS, CHANNELS, type Channel } from '../../schemas.js'

/** Create-body fields a file can carry. */
export const IMPORT_FIELDS = [
  'channel',
  'amount',
  'occurred_on',
  'org_id',
  'region_code',
  'supplier',
  'supplier_credit_code',
  'product',
  'voucher_no',
  'external_ref',
  'note',
] as const
export type ImportField = (typeof IMPORT_FIELDS)[number]

/**
 * The export's columns, in order (the contract's list): the import fields and the columns an export adds,
 * which an import accepts (so an export can be imported) and ignores, all but status.
 */
export const EXPORT_COLUMNS = [
  'id',
  ...IMPORT_FIELDS,
  'year',
  'status',
  'created_at',
  'voided_at',
  'void_reason',
] as const
export type ExportColumn = (typeof EXPORT_COLUMNS)[number]

/** Columns an import must have (org_id too for admin keys without `?org_id=`). */
export const REQUIRED_FIELDS: readonly ImportField[] = [
  'channel',
  'amount',
  'occurred_on',
  'region_code',
  'supplier',
]

/** The XLSX header; also accepted as import headers. The first listed alias is the title. */
const CHINESE: Record<ExportColumn, readonly string[]> = {
  id: ['记录编号'],
  channel: ['渠道'],
  amount: ['金额（元）', '金额'],
  occurred_on: ['发生日期', '日期'],
  org_id: ['单位编号'],
  region_code: ['地区代码'],
  supplier: ['供应商'],
  supplier_credit_code: ['统一社会信用代码'],
  product: ['产品'],
  voucher_no: ['凭证号', '发票号码'],
  external_ref: ['外部编号'],
  note: ['备注'],
  year: ['年度'],
  status: ['状态'],
  created_at: ['创建时间'],
  voided_at: ['作废时间'],
  void_reason: ['作废原因'],
}

export const chineseTitle = (column: ExportColumn): string => CHINESE[column][0]!

/** Header text as compared: trimmed, case-folded, full-width parentheses and spaces made ASCII. */
function normalizeHeader(header: string): string {
  return header
    .trim()
    .toLowerCase()
    .replace(/（/g, '(')
    .replace(/）/g, ')')
    .replace(/\u3000/g, ' ')
}

/** normalized header → column */
const HEADER_INDEX = new Map<string, ExportColumn>(
  EXPORT_COLUMNS.flatMap((column) =>
    [column, ...CHINESE[column]].map((h) => [normalizeHeader(h), column] as const),
  ),
)

/** The column a header names, or undefined when unknown. */
export const columnOfHeader = (header: string): ExportColumn | undefined =>
  HEADER_INDEX.get(normalizeHeader(header))

/** Every accepted header, for error messages. */
export const ACCEPTED_HEADERS_TEXT = IMPORT_FIELDS.map((f) => `${f} (${CHINESE[f].join(' / ')})`).join(', ')

const CHANNEL_INDEX = new Map<string, Channel>(
  CHANNELS.flatMap((c) => [[c, c] as const, [CHANNEL_LABELS[c], c] as const]),
)

/** A channel cell (code or Chinese label) → channel, or undefined. */
export const channelOfCell = (cell: string): Channel | undefined =>
  CHANNEL_INDEX.get(cell.trim().toLowerCase())

export const STATUS_LABELS = { active: '有效', voided: '已作废' } as const
