/**
 * The rollups the totals read (`purchase_totals`, `purchase_year_totals`, `canteen_year_totals`) against a
 * recomputation from `purchases` itself, after random sequences of writes through the API: single creates sent
 * together (group commit puts them in shared statements; some are refused), batches and CSV imports (some
 * refused whole), and voids. The rollups are summed over their shards; a key whose records were all voided
 * must sum to zero. The number of stored records must also equal the number the API accepted: nothing lost,
 * nothing stored twice. The database carries over from run to run (later runs write on top of earlier ones'
 * records and void them), so a shrunk counterexample may need the runs before it to fail.
 */
import assert from 'node:assert/strict'
import { type SQL, sql } from 'drizzle-orm'
import fc from 'fast-check'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { postBatch, postPurchase, postVoid } from '../api.js'
import { CHANNELS, createOrgWithReporter, REGIONS, uniq, yuan } from '../factories.js'
import { buildTestApp, FIXED_NOW } from '../helper.js'

const ctx = await buildTestApp(t, { now: FIXED_NOW }) // 2026-03-15: records dated up to then

const dateIn = (year: number, dayOfYear: number) =>
  new Date(Date.UTC(year, 0, dayOfYear)).toISOString().slice(0, 10)

const arbRecord = fc.record({
  channel: fc.constantFrom(...CHANNELS),
  amountFen: fc.oneof(fc.bigInt({ min: 1n, max: 100_000n }), fc.bigInt({ min: 1n, max: 999_999_999_999n })),
  // 2024 and 2025 whole, 2026 up to FIXED_NOW (day 74)
  date: fc.oneof(
    fc.integer({ min: 1, max: 366 }).map((d) => dateIn(2024, d)),
    fc.integer({ min: 1, max: 365 }).map((d) => dateIn(2025, d)),
    fc.integer({ min: 1, max: 74 }).map((d) => dateIn(2026, d)),
  ),
  org: fc.integer({ min: 0, max: 2 }),
  region: fc.integer({ min: 0, max: REGIONS.length - 1 }),
})
type Rec = typeof arbRecord extends fc.Arbitrary<infer R> ? R : never

/** One write through the API; `bad` adds a request or row that must be refused. */
const arbOp = fc.oneof(
  fc.record({
    kind: fc.constant('singles' as const),
    recs: fc.array(arbRecord, { minLength: 1, maxLength: 12 }),
    bad: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('batch' as const),
    recs: fc.array(arbRecord, { minLength: 1, maxLength: 20 }),
    bad: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('import' as const),
    recs: fc.array(arbRecord, { minLength: 1, maxLength: 20 }),
    bad: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('void' as const),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  }),
)

const orgs = [
  await createOrgWithReporter(ctx, 'agency'),
  await createOrgWithReporter(ctx, 'market'),
  await createOrgWithReporter(ctx, 'enterprise'),
]
const body = (r: Rec, voucher = uniq('rv')): Record<string, string> => ({
  channel: r.channel,
  amount: yuan(r.amountFen),
  occurred_on: r.date,
  org_id: orgs[r.org]!.orgId,
  region_code: REGIONS[r.region]!,
  supplier: '保山市测试农业开发有限公司',
  voucher_no: voucher,
})
const csvOf = (rows: Record<string, string>[]) =>
  [
    'channel,amount,occurred_on,org_id,region_code,supplier,voucher_no',
    ...rows.map((b) =>
      [b.channel, b.amount, b.occurred_on, b.org_id, b.region_code, b.supplier, b.voucher_no].join(','),
    ),
  ].join('\r\n')

/** Each query's rows as sorted "key → total/count" lines (text casts: the same on PGlite and PostgreSQL). */
async function lines(q: SQL): Promise<string[]> {
  const rows = await queryRows<{ k: string; total: string; n: string }>(ctx.database.db, q)
  return rows.map((r) => `${r.k} → ${r.total}/${r.n}`).sort()
}

/** [rollup, recomputed from purchases] for each of the three rollups. */
async function rollupsAndRecomputation(): Promise<Record<string, [string[], string[]]>> {
  const nonZero = sql`having sum(count) <> 0 or sum(total_fen) <> 0`
  return {
    purchase_totals: [
      await lines(sql`select concat_ws('|', year, month, channel, region_code, org_id) as k,
                             sum(total_fen)::text as total, sum(count)::text as n
                        from purchase_totals group by year, month, channel, region_code, org_id ${nonZero}`),
      await lines(sql`select concat_ws('|', year, extract(month from occurred_on)::int, channel, region_code, org_id) as k,
                             sum(amount_fen)::text as total, count(*)::text as n
                        from purchases where status = 'active'
                       group by year, extract(month from occurred_on)::int, channel, region_code, org_id`),
    ],
    purchase_year_totals: [
      await lines(sql`select concat_ws('|', year, channel, region_code) as k,
                             sum(total_fen)::text as total, sum(count)::text as n
                        from purchase_year_totals group by year, channel, region_code ${nonZero}`),
      await lines(sql`select concat_ws('|', year, channel, region_code) as k,
                             sum(amount_fen)::text as total, count(*)::text as n
                        from purchases where status = 'active' group by year, channel, region_code`),
    ],
    canteen_year_totals: [
      await lines(sql`select concat_ws('|', year, org_id) as k,
                             sum(total_fen)::text as total, sum(count)::text as n
                        from canteen_year_totals group by year, org_id ${nonZero}`),
      await lines(sql`select concat_ws('|', year, org_id) as k,
                             sum(amount_fen)::text as total, count(*)::text as n
                        from purchases where status = 'active' and channel = 'canteen' group by year, org_id`),
    ],
  }
}

const countStored = async () =>
  Number(
    (await queryRows<{ n: string }>(ctx.database.db, sql`select count(*)::text as n from purchases`))[0]!.n,
  )

t.test('every rollup equals the sums recomputed from the records, after random writes', async (t) => {
  const active: string[] = [] // ids of records that are still active
  let accepted = 0
  let runs = 0
  let ops = 0

  await fc.assert(
    fc.asyncProperty(fc.array(arbOp, { minLength: 1, maxLength: 8 }), async (sequence) => {
      runs++
      for (const op of sequence) {
        ops++
        if (op.kind === 'singles') {
          // Sent together: the batcher puts them in shared statements. The refused ones (an unknown county;
          // the first request's voucher again, which goes in a later statement and finds it taken) must not
          // take their statements' other requests down with them.
          const bodies = op.recs.map((r) => body(r))
          const refused = op.bad
            ? [
                { body: { ...bodies[0]!, region_code: '110101' }, status: 400 },
                { body: body(op.recs[0]!, bodies[0]!.voucher_no), status: 409 },
              ]
            : []
          const responses = await Promise.all(
            [...bodies, ...refused.map((x) => x.body)].map((b) => postPurchase(ctx, ctx.adminAuth, b)),
          )
          for (const [i, res] of responses.entries()) {
            if (i < bodies.length) {
              assert.equal(res.statusCode, 201, res.body)
              active.push((res.json() as { id: string }).id)
              accepted++
            } else assert.equal(res.statusCode, refused[i - bodies.length]!.status, res.body)
          }
        } else if (op.kind === 'batch') {
          const items = op.recs.map((r) => body(r))
          if (op.bad) items.push({ ...body(op.recs[0]!), region_code: '110101' })
          const res = await postBatch(ctx, ctx.adminAuth, items)
          if (op.bad) {
            assert.equal(res.statusCode, 400, res.body) // the whole batch is refused
          } else {
            assert.equal(res.statusCode, 201, res.body)
            active.push(...(res.json() as { items: { id: string }[] }).items.map((x) => x.id))
            accepted += items.length
          }
        } else if (op.kind === 'import') {
          const rows = op.recs.map((r) => body(r))
          // A voucher repeated in the file: 409, and nothing of the file is stored.
          if (op.bad) rows.push(body(op.recs[0]!, rows[0]!.voucher_no))
          const res = await ctx.app.inject({
            method: 'POST',
            url: '/v1/purchases/import',
            headers: { ...ctx.adminAuth, 'content-type': 'text/csv; charset=utf-8' },
            payload: csvOf(rows),
          })
          if (op.bad) assert.equal(res.statusCode, 409, res.body)
          else {
            assert.equal(res.statusCode, 201, res.body)
            assert.equal((res.json() as { imported: number }).imported, rows.length)
            accepted += rows.length
            // The import answers with counts, not ids: its records are found by voucher, for later voids.
            const ids = await queryRows<{ id: string }>(
              ctx.database.db,
              sql`select id::text as id from purchases where voucher_no in ${rows.map((r) => r.voucher_no)}`,
            )
            assert.equal(ids.length, rows.length)
            active.push(...ids.map((r) => r.id))
          }
        } else {
          for (const pick of op.picks) {
            if (active.length === 0) break
            const [id] = active.splice(pick % active.length, 1)
            const res = await postVoid(ctx, ctx.adminAuth, id!)
            assert.equal(res.statusCode, 200, res.body)
          }
        }
      }

      assert.equal(await countStored(), accepted, 'records stored = records accepted')
      for (const [table, [rollup, recomputed]] of Object.entries(await rollupsAndRecomputation())) {
        assert.deepEqual(rollup, recomputed, table)
      }
    }),
    { numRuns: 30 },
  )
  t.equal(runs, 30, 'property ran')
  t.ok(ops > 30, `${ops} writes, ${accepted} records, ${active.length} still active`)
  // Not vacuous: records were counted and some were voided (with ~100 writes, a quarter of them voids, a run
  // without any void is vanishingly unlikely).
  const sums = await rollupsAndRecomputation()
  t.ok(sums.purchase_totals![1].length > 0, 'records were counted')
  t.ok(active.length < accepted, 'records were voided')
  t.same(sums.purchase_totals![0], sums.purchase_totals![1])
})
