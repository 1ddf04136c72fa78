/**
 * Migration 0007 on a database that already holds near-duplicate vouchers (two active records whose
 * vouchers differ only in case, width or spaces): it does not fail, the earliest record keeps the voucher,
 * the later ones are marked and audited for finance to find, the totals do not move, and the app then
 * refuses every further near-duplicate.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type SQL, sql } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import t from 'tap'
import { type Database, queryRows } from '../../src/db/client.js'
import { postPurchase, postVoid } from '../api.js'
import { type Purchase, purchaseInput } from '../factories.js'
import { assertProblem, buildTestApp, freshDatabase } from '../helper.js'

const MIGRATIONS = new URL('../../migrations/', import.meta.url).pathname

/** A copy of migrations/ that stops before `tag`. */
function migrationsBefore(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'))
  mkdirSync(join(dir, 'meta'))
  const journal = JSON.parse(readFileSync(join(MIGRATIONS, 'meta/_journal.json'), 'utf8'))
  const stop = journal.entries.findIndex((e: { tag: string }) => e.tag === tag)
  journal.entries = journal.entries.slice(0, stop)
  for (const e of journal.entries) {
    writeFileSync(join(dir, `${e.tag}.sql`), readFileSync(join(MIGRATIONS, `${e.tag}.sql`)))
  }
  writeFileSync(join(dir, 'meta/_journal.json'), JSON.stringify(journal))
  return dir
}

async function migrate(database: Database, migrationsFolder: string): Promise<void> {
  if (database.pglite) return migratePglite(drizzlePglite(database.pglite), { migrationsFolder })
  const client = await database.pool!.connect()
  try {
    await migratePg(drizzlePg(client), { migrationsFolder })
  } finally {
    client.release()
  }
}

const { database } = await freshDatabase(t)
const rows = <T>(query: SQL) => queryRows<T>(database.db, query)

// The database as the previous version left it, with near-duplicates the exact-text index let in.
const old = migrationsBefore('0007_voucher_key')
t.teardown(() => rmSync(old, { recursive: true, force: true }))
await migrate(database, old)
const [org] = await rows<{ id: string }>(
  sql`insert into orgs (name, kind) values ('seed', 'agency') returning id`,
)
const [key] = await rows<{ id: string }>(
  sql`insert into api_keys (name, role, key_hash) values ('seed', 'admin', ${'0'.repeat(64)}) returning id`,
)
const SEED: [name: string, voucher: string | null, created: string, status: 'active' | 'voided'][] = [
  ['A', 'INV-001', '2024-01-01', 'active'],
  ['B', 'inv-001', '2024-01-02', 'active'],
  ['C', 'ＩＮＶ－００１', '2024-01-03', 'voided'],
  ['D', 'INV\u00a0-\u00a0001', '2024-01-04', 'active'],
  ['E', 'X-1', '2024-02-01', 'active'],
  ['F', 'ｘ－１', '2024-01-15', 'active'], // created before E: it keeps the voucher
  ['G', null, '2024-01-05', 'active'],
  ['H', 'Y-1', '2024-01-06', 'active'],
]
const ids: Record<string, string> = {}
for (const [name, voucher, created, status] of SEED) {
  const [r] = await rows<{ id: string }>(
    sql`insert into purchases (channel, amount_fen, occurred_on, year, org_id, region_code, supplier, voucher_no,
                               created_by, created_at, status, voided_at)
        values ('wholesale', 10000, '2024-05-20', 2024, ${org!.id}::uuid, '530502', 'x', ${voucher},
                ${key!.id}::uuid, ${created}::timestamptz, ${status},
                ${status === 'voided' ? created : null}::timestamptz)
        returning id`,
  )
  ids[name] = r!.id
}
const totals = () =>
  rows<{ fen: string; n: string }>(
    sql`select sum(total_fen)::text as fen, sum(count)::text as n from purchase_year_totals`,
  )
const totalsBefore = await totals()

// Now the app starts, and its start-up migrates.
const ctx = await buildTestApp(t, { database })
const admin = ctx.adminAuth

t.test('every voucher is keyed; the earliest active record of a key keeps rank 0', async (t) => {
  const keyed = await rows<{ id: string; voucher_key: string | null; voucher_dup_rank: number }>(
    sql`select id, voucher_key, voucher_dup_rank from purchases`,
  )
  const byName = Object.fromEntries(
    Object.entries(ids).map(([name, id]) => {
      const r = keyed.find((k) => k.id === id)!
      return [name, [r.voucher_key, r.voucher_dup_rank]]
    }),
  )
  t.same(byName, {
    A: ['inv-001', 0],
    B: ['inv-001', 1],
    C: ['inv-001', 0],
    D: ['inv-001', 2],
    E: ['x-1', 1],
    F: ['x-1', 0],
    G: [null, 0],
    H: ['y-1', 0],
  })
  t.same(await totals(), totalsBefore, 'the totals did not move')
})

t.test('each near-duplicate has an audit row finance can list', async (t) => {
  const res = await ctx.app.inject({
    url: '/v1/audit?action=purchase.voucher_near_duplicate',
    headers: admin,
  })
  t.equal(res.statusCode, 200, res.body)
  const items = (
    res.json() as { items: { entity: string; entity_id: string; after: Record<string, unknown> }[] }
  ).items
  t.same(
    items.map((i) => [i.entity, i.entity_id, i.after.same_voucher_as, i.after.voucher_no]).sort(),
    [
      ['purchase', ids.B, ids.A, 'inv-001'],
      ['purchase', ids.D, ids.A, 'INV\u00a0-\u00a0001'],
      ['purchase', ids.E, ids.F, 'X-1'],
    ].sort(),
  )
  const listed = await ctx.app.inject({ url: '/v1/purchases?voucher_no=inv-001', headers: admin })
  t.same(
    (listed.json() as { items: Purchase[] }).items.map((p) => p.id).sort(),
    [ids.A, ids.B, ids.D].sort(),
    'listing by any form of the voucher finds them all',
  )
})

t.test(
  'after the migration every near-duplicate is refused, naming the earliest active record',
  async (t) => {
    const post = (voucher: string) =>
      postPurchase(ctx, admin, purchaseInput({ org_id: org!.id, voucher_no: voucher }))
    t.equal(assertProblem(t, await post('Inv-001'), 409, 'duplicate_voucher').existing_id, ids.A)
    t.equal(assertProblem(t, await post('Y-1'), 409, 'duplicate_voucher').existing_id, ids.H)
    // Voiding the record that kept the voucher leaves its near-duplicates counted: still a clash.
    t.equal((await postVoid(ctx, admin, ids.A!)).statusCode, 200)
    t.equal(assertProblem(t, await post('INV-001'), 409, 'duplicate_voucher').existing_id, ids.B)
    for (const id of [ids.B!, ids.D!]) t.equal((await postVoid(ctx, admin, id)).statusCode, 200)
    const res = await post('INV-001')
    t.equal(res.statusCode, 201, res.body)
  },
)
