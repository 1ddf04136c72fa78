/**
 * The rows `bench:import` loads: deterministic records as the CSV an agency would upload, and the same
 * records as COPY csv text.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import copyStreams from 'pg-copy-streams'
import { uuidv7 } from '../../src/db/uuidv7.js'

const REGIONS = ['530502', '530521', '530523', '530524', '530623', '530626', '653124']
const CHANNELS = ['wholesale', 'union_welfare', 'enterprise', 'canteen', 'market_sales']
const LABELS = ['大宗批发', '工会福利', '企业采购', '食堂预留', '市场销售']
const SUPPLIERS = [
  '保山市隆阳区咖啡产业开发有限公司',
  '施甸县农特产品贸易有限公司',
  '龙陵县紫皮石斛专业合作社',
  '泽普县骏枣农产品有限公司',
]
const PRODUCTS = ['小粒咖啡 200 箱', '紫皮石斛礼盒', '滇红茶 50 斤', '泽普骏枣']

export interface Row {
  channel: number
  fen: bigint
  date: string
  region: string
  supplier: string
  product: string
  voucher: string
}

/** Deterministic rows; `tag` keeps voucher numbers unique across rounds and methods. */
export function makeRows(n: number, tag: string): Row[] {
  let s = 12345
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s / 2 ** 32
  }
  return Array.from({ length: n }, (_, i) => {
    const day = 1 + Math.floor(next() * 365)
    const d = new Date(Date.UTC(2024, 0, day))
    return {
      channel: Math.floor(next() * 5),
      fen: BigInt(1 + Math.floor(next() * 100_000_000)),
      date: d.toISOString().slice(0, 10),
      region: REGIONS[Math.floor(next() * REGIONS.length)]!,
      supplier: SUPPLIERS[i % SUPPLIERS.length]!,
      product: PRODUCTS[i % PRODUCTS.length]!,
      voucher: `${tag}-${i}`,
    }
  })
}

const money = (fen: bigint) => `${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`

/** The CSV an agency would upload: Chinese headers and labels, thousands separators. */
export function importCsv(rows: Row[]): Buffer {
  const lines = ['渠道,金额（元）,发生日期,地区代码,供应商,产品,凭证号']
  for (const r of rows) {
    const amount = money(r.fen).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
    lines.push(
      `${LABELS[r.channel]},"${amount}",${r.date},${r.region},${r.supplier},${r.product},${r.voucher}`,
    )
  }
  return Buffer.from(`\ufeff${lines.join('\r\n')}\r\n`)
}

const COPY_COLUMNS =
  'id, channel, amount_fen, occurred_on, year, org_id, region_code, supplier, product, voucher_no, created_by'

/** The same records as COPY csv text, with ids made the way the import makes them (UUIDv7). */
function* copyLines(rows: Row[], orgId: string, keyId: string): Generator<string> {
  let chunk = ''
  for (const r of rows) {
    chunk += `${uuidv7()},${CHANNELS[r.channel]},${r.fen},${r.date},${r.date.slice(0, 4)},${orgId},${r.region},${r.supplier},${r.product},${r.voucher},${keyId}\n`
    if (chunk.length > 256 * 1024) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk) yield chunk
}

export async function copyRows(client: pg.Client, rows: Row[], orgId: string, keyId: string): Promise<void> {
  const sink = client.query(copyStreams.from(`copy purchases (${COPY_COLUMNS}) from stdin with (format csv)`))
  await pipeline(Readable.from(copyLines(rows, orgId, keyId)), sink)
}
