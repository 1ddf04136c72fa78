/**
 * The bench's own database (created fresh, dropped at the end) and its data: purchases seeded by COPY
 * straight into `purchases` (the rollup trigger fires per COPY statement), and the rows of the CSV import
 * together with the same rows as COPY text, so import and raw COPY write identical records.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import copyStreams from 'pg-copy-streams'
import { formatMoney } from '../../src/money.js'
import { baseDatabaseName, createDatabase, databaseUrl, dropDatabase, withClient } from '../lib/postgres.js'
import { onCleanup } from '../lib/processes.js'

export const REGION_CODES = ['530502', '530521', '530523', '530524', '530623', '530626', '653124']
const CHANNEL_WEIGHTS: [string, number][] = [
  ['wholesale', 35],
  ['union_welfare', 20],
  ['enterprise', 25],
  ['canteen', 10],
  ['market_sales', 10],
]
const SUPPLIERS = [
  '保山市隆阳区咖啡产业开发有限公司',
  '施甸县农特产品贸易有限公司',
  '龙陵县紫皮石斛专业合作社',
  '昌宁县红茶产销有限公司',
  '盐津县乌骨鸡养殖专业合作社',
  '绥江县半边红李子销售有限公司',
  '泽普县骏枣农产品有限公司',
]
const PRODUCTS = [
  '小粒咖啡 200 箱',
  '紫皮石斛礼盒',
  '滇红茶 50 斤',
  '乌骨鸡 300 只',
  '半边红李子 2 吨',
  '泽普骏枣',
]

const MARK = 'npm run bench'

/** Is `pid` a live bench harness on this machine (a dead one cannot drop its database any more)? */
function harnessAlive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('scripts/bench/')
  } catch {
    return false
  }
}

/**
 * Creates `<database>_bench_<random>` on the base URL's server, marked with this harness's pid and host, and
 * registers it for dropping at cleanup. Bench databases left by a harness that was killed (its pid is gone)
 * are dropped first; nothing else is touched.
 */
export async function createBenchDatabase(
  baseUrl: string,
): Promise<{ url: string; name: string; stale: string[] }> {
  const baseName = baseDatabaseName(baseUrl)
  const name = `${baseName}_bench_${randomBytes(4).toString('hex')}`.toLowerCase()
  const stale: string[] = []
  await withClient(baseUrl, async (c) => {
    const { rows } = await c.query<{ datname: string; note: string }>(
      `select datname, shobj_description(oid, 'pg_database') as note from pg_database
        where datname ~ $1 and shobj_description(oid, 'pg_database') like $2`,
      [`^${baseName.toLowerCase()}_bench_[0-9a-f]{8}$`, `${MARK}: pid % host ${hostname()}`],
    )
    for (const r of rows) {
      const pid = Number(/pid (\d+)/.exec(r.note)?.[1])
      if (pid && !harnessAlive(pid)) {
        await dropDatabase(c, r.datname)
        stale.push(r.datname)
      }
    }
    await createDatabase(c, name, `${MARK}: pid ${process.pid} host ${hostname()}`)
  })
  onCleanup(`drop database ${name}`, () => withClient(baseUrl, (c) => dropDatabase(c, name)))
  return { url: databaseUrl(baseUrl, name), name, stale }
}

/** Deterministic pseudo-random numbers, so two runs seed alike. */
export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface GenRow {
  channel: string
  amountFen: bigint
  occurredOn: string
  regionCode: string
  supplier: string
  product: string | null
  voucherNo: string | null
}

const DAY_MS = 86_400_000
const JAN1_2024 = Date.UTC(2024, 0, 1)

/** One plausible 2024 purchase record; `voucher` makes the voucher number unique (null: none). */
export function genRow(rand: () => number, voucher: string | null): GenRow {
  let pick = rand() * 100
  let channel = CHANNEL_WEIGHTS[0]![0]
  for (const [c, w] of CHANNEL_WEIGHTS) {
    if (pick < w) {
      channel = c
      break
    }
    pick -= w
  }
  const r = Math.floor(rand() * REGION_CODES.length)
  return {
    channel,
    amountFen: BigInt(10_000 + Math.floor(rand() * 50_000_000)),
    occurredOn: new Date(JAN1_2024 + Math.floor(rand() * 366) * DAY_MS).toISOString().slice(0, 10),
    regionCode: REGION_CODES[r]!,
    supplier: SUPPLIERS[r]!,
    product: rand() < 0.8 ? PRODUCTS[Math.floor(rand() * PRODUCTS.length)]! : null,
    voucherNo: voucher,
  }
}

/** A generated row as the JSON body of `POST /v1/purchases` (and of the bench's POST anchor). */
export function purchaseJson(row: GenRow): string {
  return JSON.stringify({
    channel: row.channel,
    amount: formatMoney(row.amountFen),
    occurred_on: row.occurredOn,
    region_code: row.regionCode,
    supplier: row.supplier,
    product: row.product ?? '滇红茶 50 斤',
    voucher_no: row.voucherNo,
  })
}

export const COPY_COLUMNS =
  'channel, amount_fen, occurred_on, year, org_id, region_code, supplier, product, voucher_no, status, ' +
  'created_by, voided_at, voided_by, void_reason'

/** One line of COPY text format for `COPY_COLUMNS` (generated values never need escaping). */
export function copyLine(row: GenRow, orgId: string, keyId: string, voided = false): string {
  const n = (v: string | null) => v ?? '\\N'
  return `${row.channel}\t${row.amountFen}\t${row.occurredOn}\t${row.occurredOn.slice(0, 4)}\t${orgId}\t${
    row.regionCode
  }\t${row.supplier}\t${n(row.product)}\t${n(row.voucherNo)}\t${voided ? 'voided' : 'active'}\t${keyId}\t${
    voided ? new Date().toISOString() : '\\N'
  }\t${voided ? keyId : '\\N'}\t${voided ? 'bench: voided seed record' : '\\N'}\n`
}

/** COPYs text (a buffer or a stream of chunks) into purchases; resolves when committed. */
export async function copyIntoPurchases(client: pg.Client, data: Iterable<string> | AsyncIterable<string>) {
  const sink = client.query(copyStreams.from(`COPY purchases (${COPY_COLUMNS}) FROM STDIN`))
  await pipeline(Readable.from(data), sink)
}

/**
 * Seeds `count` records (from record number `from`) spread over `orgIds`: 90 % with a voucher number,
 * 1 % voided. One COPY per 100 000 rows keeps the trigger's transition table bounded.
 */
export async function seedPurchases(
  url: string,
  opts: { from: number; count: number; orgIds: string[]; keyId: string; tag: string },
  onProgress?: (done: number) => void,
): Promise<void> {
  const CHUNK = 100_000
  await withClient(url, async (client) => {
    for (let start = opts.from; start < opts.from + opts.count; start += CHUNK) {
      const end = Math.min(start + CHUNK, opts.from + opts.count)
      const rand = rng(start + 1)
      async function* lines() {
        let buf = ''
        for (let i = start; i < end; i++) {
          const voucher = rand() < 0.9 ? `S${opts.tag}-${i}` : null
          const row = genRow(rand, voucher)
          buf += copyLine(row, opts.orgIds[i % opts.orgIds.length]!, opts.keyId, rand() < 0.01)
          if (buf.length > 256 * 1024) {
            yield buf
            buf = ''
          }
        }
        if (buf) yield buf
      }
      await copyIntoPurchases(client, lines())
      onProgress?.(end - opts.from)
    }
    // Fresh statistics and visibility map, as a long-running database would have.
    await client.query('vacuum analyze purchases')
    await client.query('vacuum analyze purchase_totals')
    await client.query('vacuum analyze purchase_year_totals')
    await client.query('vacuum analyze canteen_year_totals')
    await client.query('checkpoint').catch(() => {})
  })
}

export const CSV_HEADER = 'channel,amount,occurred_on,region_code,supplier,product,voucher_no'

/**
 * `rows` records as an import CSV (voucher numbers `I<tag>-n`) and as COPY text for the raw COPY
 * (voucher numbers `C<tag>-n`, else the same records, for the same org and key).
 */
export function importData(
  rows: number,
  tag: string,
  orgId: string,
  keyId: string,
): { csv: string; copyText: string } {
  const rand = rng(0x1b873593 ^ rows)
  const csv: string[] = [CSV_HEADER]
  const copy: string[] = []
  for (let i = 0; i < rows; i++) {
    const row = genRow(rand, `I${tag}-${i}`)
    csv.push(
      `${row.channel},${formatMoney(row.amountFen)},${row.occurredOn},${row.regionCode},${row.supplier},${
        row.product ?? ''
      },${row.voucherNo}`,
    )
    copy.push(copyLine({ ...row, voucherNo: `C${tag}-${i}` }, orgId, keyId))
  }
  return { csv: `${csv.join('\r\n')}\r\n`, copyText: copy.join('') }
}
