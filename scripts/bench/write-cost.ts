/**
 * npm run bench:write-cost — what one recorded purchase costs PostgreSQL, without HTTP or Node in the way.
 *
 * In one fresh database it runs, with the same concurrency, interleaved rounds and medians:
 *   anchor  — the bench anchor's one-row INSERT into a table with a bigserial key and nothing else;
 *   create  — the service's own single-record statement (`purchasesRepository.insertCheckedMany`: idempotency
 *             lookup, region/org/voucher checks, the purchase with its indexes, foreign keys and rollup
 *             trigger, the audit row and the idempotency row), called as `POST /v1/purchases` calls it at
 *             low load, one request per statement;
 *   group commit — the same statement carrying WRITE_COST_BATCH requests, as the service sends it under load
 *             (4 statements in flight, as the service's batchSlots on PostgreSQL);
 * then the one-request `create` again after taking away, one at a time and cumulatively, what each invariant costs
 * (foreign keys, the rollup trigger, the audit and idempotency rows), in that throwaway database only.
 * The ratio create ÷ anchor is the ceiling for `POST /v1/purchases` ÷ the HTTP anchor when PostgreSQL is the
 * bottleneck: no Node-side work can make the HTTP ratio better than the database's.
 *
 * Options (env): DATABASE_URL (server; default postgres://postgres@127.0.0.1:5432/test), WRITE_COST_SECONDS
 * (per measurement, default 5), WRITE_COST_ROUNDS (default 3), WRITE_COST_CONNECTIONS (default 20),
 * WRITE_COST_BATCH (requests per group-commit statement, default 10).
 */
import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { openDatabase } from '../../src/db/client.js'
import { runMigrations } from '../../src/db/migrate.js'
import { purchasesRepository } from '../../src/modules/purchases/purchases.repository.js'
import { voucherKey } from '../../src/modules/purchases/voucher-key.js'
import { installSignalHandlers, runMain } from '../lib/processes.js'
import { fileStamp, writeResultsFile } from '../lib/results.js'
import { median } from './measure.js'
import { createBenchDatabase, type GenRow, genRow, rng } from './seed.js'

const SECONDS = Number(process.env.WRITE_COST_SECONDS ?? 5)
const ROUNDS = Number(process.env.WRITE_COST_ROUNDS ?? 3)
const CONNECTIONS = Number(process.env.WRITE_COST_CONNECTIONS ?? 20)
const BATCH = Number(process.env.WRITE_COST_BATCH ?? 10)
/** Group commit keeps a few statements in flight (the service's batchSlots), not one per request. */
const GROUP_CONNECTIONS = 4

const log = (msg: string) => console.log(`[write-cost ${new Date().toISOString().slice(11, 19)}] ${msg}`)

/** Each step takes something more away; every step is measured against the anchor in the same rounds. */
const STEPS: { id: string; label: string; sql: string[]; batch?: number }[] = [
  { id: 'create', label: 'create statement, one request in it', sql: [] },
  {
    id: 'group-commit',
    label: `create statement, ${BATCH} requests in it (group commit)`,
    sql: [],
    batch: BATCH,
  },
  {
    id: 'no-fk',
    label: '… without the purchases foreign keys (org, region, api key)',
    sql: [
      'alter table purchases drop constraint purchases_org_id_orgs_id_fk',
      'alter table purchases drop constraint purchases_region_code_regions_code_fk',
      'alter table purchases drop constraint purchases_created_by_api_keys_id_fk',
    ],
  },
  {
    id: 'no-rollup',
    label: '… and without the rollup trigger',
    sql: ['alter table purchases disable trigger purchases_totals_insert'],
  },
  {
    id: 'no-audit-idx',
    label: '… and without the audit and idempotency secondary indexes',
    sql: [
      'drop index audit_log_entity_idx',
      'drop index audit_log_action_idx',
      'drop index audit_log_at_idx',
      'drop index idempotency_keys_created_idx',
    ],
  },
  {
    id: 'no-purchase-idx',
    label: '… and without the purchases list and external_ref indexes',
    sql: [
      'drop index purchases_list_idx',
      'drop index purchases_org_list_idx',
      'drop index purchases_external_ref_idx',
    ],
  },
]
type Step = (typeof STEPS)[number]

interface StepResult {
  id: string
  label: string
  anchor: number[]
  ours: number[]
  ratios: number[]
}

/**
 * Runs `op` on `connections` concurrent loops for `seconds`; returns records written per second (`op`
 * answers how many it wrote).
 */
async function throughput(op: () => Promise<number>, seconds: number, connections: number) {
  const until = performance.now() + seconds * 1000
  let done = 0
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const written = await op()
        done += written
      }
    }),
  )
  return done / seconds
}

/** The throwaway database, migrated, with one org, one reporter key and the anchor's table. */
interface Ctx {
  database: ReturnType<typeof openDatabase>
  pool: pg.Pool
  q: <T extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<T[]>
  orgId: string
  keyId: string
  next: () => GenRow
}

async function prepare(): Promise<Ctx> {
  const base = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
  const bench = await createBenchDatabase(base)
  log(`database ${bench.name} (dropped at the end)`)
  const database = openDatabase({ databaseUrl: bench.url, poolMax: CONNECTIONS })
  await runMigrations(database)
  const pool = database.pool!
  const q = <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
    pool.query<T>(text, values).then((r) => r.rows)
  const [org] = await q<{ id: string }>(
    `insert into orgs (name, kind) values ('write-cost', 'trade_union') returning id`,
  )
  const [key] = await q<{ id: string }>(
    `insert into api_keys (name, role, org_id, key_hash) values ('write-cost', 'reporter', $1, $2) returning id`,
    [org!.id, randomBytes(32).toString('hex')],
  )
  await q(`create table anchor_purchases (
    id bigserial primary key, channel text not null, amount_fen bigint not null, occurred_on date not null,
    region_code char(6) not null, supplier text not null, product text, voucher_no text,
    created_at timestamptz not null default now())`)
  const rand = rng(7)
  const tag = randomBytes(3).toString('hex')
  let seq = 0
  const next = () => genRow(rand, `W${tag}-${seq++}`)
  return { database, pool, q, orgId: org!.id, keyId: key!.id, next }
}

/** The bench anchor's one-row INSERT. */
const anchor = (c: Ctx) => async () => {
  const r = c.next()
  await c.pool.query({
    name: 'anchor',
    text: `insert into anchor_purchases (channel, amount_fen, occurred_on, region_code, supplier, product, voucher_no)
           values ($1, $2, $3, $4, $5, $6, $7) returning id`,
    values: [
      r.channel,
      r.amountFen.toString(),
      r.occurredOn,
      r.regionCode,
      r.supplier,
      r.product,
      r.voucherNo,
    ],
  })
  return 1
}

/** One request as `POST /v1/purchases` hands it to the create statement. */
function createRequest(c: Ctx, r: GenRow) {
  return {
    actorKeyId: c.keyId,
    row: {
      channel: r.channel,
      amountFen: r.amountFen,
      occurredOn: r.occurredOn,
      orgId: c.orgId,
      regionCode: r.regionCode,
      supplier: r.supplier,
      supplierCreditCode: null,
      product: r.product,
      voucherNo: r.voucherNo,
      voucherKey: r.voucherNo === null ? null : voucherKey(r.voucherNo),
      externalRef: null,
      note: null,
    },
    orgId: c.orgId,
    proceed: true,
    idempotencyKey: `idem-${r.voucherNo}`,
    fingerprint: 'f'.repeat(64),
  }
}

/** The service's create statement with `size` requests in it, as group commit sends it under load. */
const create = (c: Ctx, size: number) => async () => {
  const requests = Array.from({ length: size }, () => createRequest(c, c.next()))
  const out = await purchasesRepository.insertCheckedMany(c.database.db, requests)
  if (out.some((o) => !o.created)) throw new Error('the create statement stored nothing')
  return size
}

/** Takes the step's things away, then ROUNDS rounds of anchor and create, order alternating. */
async function runStep(c: Ctx, step: Step): Promise<StepResult> {
  for (const s of step.sql) await c.q(s)
  const r: StepResult = { id: step.id, label: step.label, anchor: [], ours: [], ratios: [] }
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order so drift over the round hits both sides alike.
    const first = round % 2 === 0
    const a1 = first ? await throughput(anchor(c), SECONDS, CONNECTIONS) : undefined
    const o = await throughput(
      create(c, step.batch ?? 1),
      SECONDS,
      step.batch ? GROUP_CONNECTIONS : CONNECTIONS,
    )
    const a = a1 ?? (await throughput(anchor(c), SECONDS, CONNECTIONS))
    r.anchor.push(a)
    r.ours.push(o)
    r.ratios.push(o / a)
    log(
      `${step.id} round ${round + 1}: anchor ${a.toFixed(0)}/s, create ${o.toFixed(0)}/s, ratio ${(o / a).toFixed(2)}`,
    )
  }
  return r
}

function printResults(results: StepResult[]) {
  console.log(
    `\nPostgreSQL cost of one recorded purchase (${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} rounds, medians)`,
  )
  console.log(
    `${'step'.padEnd(66)} ${'anchor/s'.padStart(9)} ${'create/s'.padStart(9)} ${'ratio'.padStart(6)}`,
  )
  for (const r of results) {
    console.log(
      `${r.label.padEnd(66)} ${median(r.anchor).toFixed(0).padStart(9)} ${median(r.ours).toFixed(0).padStart(9)} ${median(r.ratios).toFixed(2).padStart(6)}`,
    )
  }
}

async function main() {
  installSignalHandlers()
  const c = await prepare()
  // Warm-up: plans cached, tables and indexes non-empty.
  await throughput(anchor(c), 1, CONNECTIONS)
  await throughput(create(c, 1), 1, CONNECTIONS)
  const results: StepResult[] = []
  for (const step of STEPS) results.push(await runStep(c, step))
  printResults(results)
  const file = writeResultsFile(`write-cost-${fileStamp()}.json`, {
    connections: CONNECTIONS,
    seconds: SECONDS,
    rounds: ROUNDS,
    results,
  })
  log(`raw figures: ${file}`)
  await c.database.close()
}

runMain('write-cost', main)
