/**
 * Acceptance 2: ≥ 10 000 records with random amounts (0.01 – 9 999 999 999.99) across every channel, several
 * orgs and counties, posted through the batch and single routes; GET /v1/totals must equal the exact bigint
 * sums per channel and overall, and so must the sum of every listed record. The amounts are skewed so the
 * grand total in fen passes 2^53: a float anywhere on the way would show.
 */
import t from 'tap'
import { formatMoney } from '../../src/money.js'
import { listAll, postBatch, postPurchase, postVoid } from '../api.js'
import { CHANNELS, createOrgWithReporter, fenOf, type Purchase, REGIONS, yuan } from '../factories.js'
import { type Auth, buildTestApp } from '../helper.js'

const YEAR = 2024
const BATCHES = 14
const BATCH_SIZE = 1000
const SINGLES = 60

/** A seeded PRNG (mulberry32), so a failure can be replayed with PURCHASE_SUMS_SEED. */
function prng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}

const seed = Number(process.env.PURCHASE_SUMS_SEED ?? Date.now() % 2 ** 31)
t.comment(`seed ${seed} (set PURCHASE_SUMS_SEED to replay)`)
const random = prng(seed)
const u32 = () => BigInt(Math.floor(random() * 2 ** 32))
/** Uniform bigint in [lo, hi]. */
const between = (lo: bigint, hi: bigint) => lo + (((u32() << 32n) | u32()) % (hi - lo + 1n))
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!

const MAX_FEN = 999_999_999_999n

/** Fen as the contract's response string, independently of src/money.ts. */

/** A response money string ("12345678901234.56", any size) as fen; throws on anything else. */
function responseFen(s: string): bigint {
  // (independent of src/money.ts, which is under test here too)
  if (!/^\d+\.\d{2}$/.test(s)) throw new Error(`not a money string: ${s}`)
  return fenOf(s)
}
/** 45 % uniform over the whole range, 50 % near the maximum, 5 % tiny (a few fen). */
function randomFen(): bigint {
  const r = random()
  if (r < 0.05) return between(1n, 999n)
  if (r < 0.55) return between(900_000_000_000n, MAX_FEN)
  return between(1n, MAX_FEN)
}

function randomDate(year: number): string {
  const start = Date.UTC(year, 0, 1)
  const days = (Date.UTC(year + 1, 0, 1) - start) / 86_400_000
  return new Date(start + Math.floor(random() * days) * 86_400_000).toISOString().slice(0, 10)
}

let serial = 0
function randomBody(orgId?: string, year = YEAR): Record<string, unknown> {
  serial++
  return {
    channel: pick(CHANNELS),
    amount: formatMoney(randomFen()),
    occurred_on: randomDate(year),
    region_code: pick(REGIONS),
    supplier: `供应商 ${serial % 97}`,
    // Every fifth record without a voucher; the rest unique.
    voucher_no: serial % 5 === 0 ? null : `SUM-${seed}-${serial}`,
    ...(orgId ? { org_id: orgId } : {}),
  }
}

t.test('exact sums over ≥ 10 000 random records', async (t) => {
  const t0 = Date.now()
  const ctx = await buildTestApp(t)
  t.comment(`app built in ${Date.now() - t0} ms`)
  const admin: Auth = ctx.adminAuth
  const orgs = await Promise.all(Array.from({ length: 4 }, () => createOrgWithReporter(ctx)))

  const expected = new Map<string, { fen: bigint; count: number }>(
    CHANNELS.map((c) => [c, { fen: 0n, count: 0 }]),
  )
  const counted: Purchase[] = []
  const check = (posted: Record<string, unknown>, got: Purchase) => {
    // Each record's amount comes back as the exact string that was posted.
    if (got.amount !== posted.amount) t.fail(`amount ${String(posted.amount)} came back as ${got.amount}`)
    if (got.channel !== posted.channel || got.occurred_on !== posted.occurred_on)
      t.fail(`record ${got.id} differs`)
    counted.push(got)
  }

  const started = Date.now()
  // Batches of 1000: half by admin (org_id named), half by the orgs' reporters (org implied).
  for (let b = 0; b < BATCHES; b++) {
    const org = orgs[b % orgs.length]!
    const byAdmin = b % 2 === 0
    const items = Array.from({ length: BATCH_SIZE }, () => randomBody(byAdmin ? org.orgId : undefined))
    // The extremes are always there.
    if (b === 0) {
      items[0]!.amount = '0.01'
      items[1]!.amount = '9999999999.99'
    }
    const res = await postBatch(ctx, byAdmin ? admin : org.auth, items)
    if (res.statusCode !== 201) {
      t.fail(`batch ${b}: ${res.statusCode} ${res.body.slice(0, 500)}`)
      return
    }
    const out = (res.json() as { items: Purchase[] }).items
    t.equal(out.length, BATCH_SIZE, `batch ${b}: ${BATCH_SIZE} records`)
    out.forEach((p, i) => {
      check(items[i]!, p)
      if (p.org_id !== org.orgId) t.fail(`batch ${b} item ${i}: org ${p.org_id}`)
    })
  }
  // Some through the single route.
  for (let i = 0; i < SINGLES; i++) {
    const org = orgs[i % orgs.length]!
    const body = randomBody(i % 2 === 0 ? org.orgId : undefined)
    const res = await postPurchase(ctx, i % 2 === 0 ? admin : org.auth, body)
    if (res.statusCode !== 201) {
      t.fail(`single ${i}: ${res.statusCode} ${res.body}`)
      return
    }
    check(body, res.json() as Purchase)
  }
  t.comment(`posted ${counted.length} records in ${Date.now() - started} ms`)
  t.ok(counted.length >= 10_000, `${counted.length} records`)

  // Void a few: they stop counting.
  const voided = new Set<string>()
  for (let i = 0; i < 7; i++) {
    const p = counted[Math.floor(random() * counted.length)]!
    if (voided.has(p.id)) continue
    const res = await postVoid(ctx, admin, p.id, 'test correction')
    t.equal(res.statusCode, 200)
    voided.add(p.id)
  }
  // Records of other years never count in this year's totals.
  const otherYear = await postBatch(
    ctx,
    admin,
    Array.from({ length: 30 }, (_, i) => randomBody(orgs[0]!.orgId, i % 2 === 0 ? YEAR - 1 : YEAR - 2)),
  )
  t.equal(otherYear.statusCode, 201)

  for (const p of counted) {
    if (voided.has(p.id)) continue
    const e = expected.get(p.channel)!
    e.fen += responseFen(p.amount)
    e.count++
  }
  const grand = [...expected.values()].reduce((s, e) => s + e.fen, 0n)
  t.ok(grand > 2n ** 53n, `grand total ${grand} fen is above 2^53 (${2n ** 53n})`)
  for (const c of CHANNELS) t.ok(expected.get(c)!.count > 1000, `${c}: ${expected.get(c)!.count} records`)

  t.comment(`voids and other years done at ${Date.now() - started} ms`)
  // 1. The listed records add up (every page, per channel).
  for (const channel of CHANNELS) {
    const rows = await listAll(ctx, admin, { year: YEAR, channel, limit: 500 })
    const sum = rows.reduce((s, p) => s + responseFen(p.amount), 0n)
    t.equal(sum, expected.get(channel)!.fen, `listed ${channel} sum`)
    t.equal(rows.length, expected.get(channel)!.count, `listed ${channel} count`)
    t.equal(new Set(rows.map((p) => p.id)).size, rows.length, `${channel}: no row listed twice`)
  }

  t.comment(`listing done at ${Date.now() - started} ms`)
  // 2. GET /v1/totals equals the exact sums, per channel and overall.
  const res = await ctx.app.inject({ method: 'GET', url: `/v1/totals?year=${YEAR}`, headers: admin })
  t.equal(res.statusCode, 200, `GET /v1/totals: ${res.body.slice(0, 300)}`)
  const totals = res.json() as {
    year: number
    channels: { channel: string; total: string; count: number }[]
    grand_total: string
  }
  t.equal(totals.year, YEAR)
  t.same(totals.channels?.map((c) => c.channel).sort(), [...CHANNELS].sort(), 'every channel present')
  for (const channel of CHANNELS) {
    const got = totals.channels?.find((c) => c.channel === channel)
    t.equal(got?.total, yuan(expected.get(channel)!.fen), `totals ${channel}`)
    t.equal(got?.count, expected.get(channel)!.count, `totals ${channel} count`)
  }
  t.equal(totals.grand_total, yuan(grand), 'grand_total')
  t.comment(`totals done at ${Date.now() - started} ms`)
  // The per-org figures add up to the district's.
  let perOrg = 0n
  for (const org of orgs) {
    const r = await ctx.app.inject({
      method: 'GET',
      url: `/v1/totals?year=${YEAR}&org_id=${org.orgId}`,
      headers: org.auth,
    })
    t.equal(r.statusCode, 200)
    perOrg += responseFen((r.json() as { grand_total: string }).grand_total)
  }
  t.equal(perOrg, grand, 'orgs add up to the grand total')
  t.comment(`all done at ${Date.now() - started} ms`)
})
