import { sql } from 'drizzle-orm'
import { type Executor, queryPrepared, queryRows } from '../../db/client.js'
import { uuidv7 } from '../../db/uuidv7.js'
import type { NewPurchase } from './purchases.domain.js'
import type { PurchaseFilters, PurchaseOut } from './purchases.schemas.js'
import { voucherKey } from './voucher-key.js'

/** One request on the single-record write path (see `insertCheckedMany`). */
export interface CheckedInsert {
  actorKeyId: string
  row: NewPurchase
  /** The record's org, or null when an admin request named none. */
  orgId: string | null
  /** False when the request already has a problem found without the database: check only, store nothing. */
  proceed: boolean
  idempotencyKey: string | null
  fingerprint: string
}

export interface CheckedInsertOutcome {
  regionOk: boolean
  orgOk: boolean
  clashId: string | null
  /** The new record's API JSON; null when nothing was inserted. */
  created: PurchaseOut | null
  priorFingerprint: string | null
  priorStatus: number | null
  priorBody: unknown
}

/** Rows per INSERT statement: keeps parameters and statement memory bounded for 100 000-row imports. */
export const INSERT_CHUNK = 5_000

const col = <T>(rows: NewPurchase[], f: (r: NewPurchase) => T) => sql.param(rows.map(f))

export const purchasesRepository = {
  /**
   * Inserts records and their `purchase.created` audit rows in one statement per chunk (the rollup is
   * maintained by a trigger in the same statement). Returns the records' API JSON in input order.
   */
  async insertMany(
    ex: Executor,
    actorKeyId: string,
    rows: NewPurchase[],
    returnRows = true,
  ): Promise<PurchaseOut[]> {
    const out: PurchaseOut[] = []
    for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
      const chunk = rows.slice(start, start + INSERT_CHUNK)
      const ids = chunk.map(() => uuidv7())
      const inserted = await queryRows<{ id: string; json: PurchaseOut }>(
        ex,
        sql`with ins as (
          insert into purchases (id, channel, amount_fen, occurred_on, year, org_id, region_code, supplier,
                                 supplier_credit_code, product, voucher_no, voucher_key, external_ref, note,
                                 created_by)
          select u.id, u.channel, u.amount_fen, u.occurred_on, extract(year from u.occurred_on)::smallint, u.org_id,
                 u.region_code, u.supplier, u.supplier_credit_code, u.product, u.voucher_no, u.voucher_key,
                 u.external_ref, u.note, ${actorKeyId}::uuid
            from unnest(${sql.param(ids)}::uuid[], ${col(chunk, (r) => r.channel)}::text[],
                        ${col(chunk, (r) => r.amountFen.toString())}::bigint[], ${col(chunk, (r) => r.occurredOn)}::date[],
                        ${col(chunk, (r) => r.orgId)}::uuid[], ${col(chunk, (r) => r.regionCode)}::text[],
                        ${col(chunk, (r) => r.supplier)}::text[], ${col(chunk, (r) => r.supplierCreditCode)}::text[],
                        ${col(chunk, (r) => r.product)}::text[], ${col(chunk, (r) => r.voucherNo)}::text[],
                        ${col(chunk, (r) => r.voucherKey)}::text[], ${col(chunk, (r) => r.externalRef)}::text[],
                        ${col(chunk, (r) => r.note)}::text[])
                 as u(id, channel, amount_fen, occurred_on, org_id, region_code, supplier, supplier_credit_code,
                      product, voucher_no, voucher_key, external_ref, note)
          returning *
        ), audit as (
          insert into audit_log (actor_key_id, action, entity, entity_id, after)
          select ${actorKeyId}::uuid, 'purchase.created', 'purchase', ins.id::text, purchase_json(ins::purchases)
            from ins
        )
        ${returnRows ? sql`select id, purchase_json(ins::purchases) as json from ins` : sql`select count(*) from ins`}`,
      )
      if (returnRows) {
        const byId = new Map(inserted.map((r) => [r.id, r.json]))
        for (const id of ids) out.push(byId.get(id)!)
      }
    }
    return out
  },

  /**
   * The single-record write path for several requests at once, in one statement (one round trip, atomic):
   * for each request it looks up a prior response for its idempotency key, checks region, org and voucher,
   * and — when its `proceed` and every check pass and there is no prior response — inserts the record, its
   * audit row and its idempotency record. Returns one outcome per request, in order; the caller turns the
   * flags into each response. Requests in one call must not share a voucher key or an (API key, idempotency
   * key) pair (see `distinctGroups` in purchases.domain.ts): each is checked against what was stored
   * before the statement. A unique violation (a concurrent statement took a key or a voucher) fails the
   * whole statement, so nothing of it is stored, and the caller retries.
   */
  async insertCheckedMany(ex: Executor, requests: CheckedInsert[]): Promise<CheckedInsertOutcome[]> {
    // One JSON parameter rather than one array per column: jsonb_to_recordset's row estimate is the same
    // whatever the batch size, so PostgreSQL settles on one generic plan for the prepared statement. With
    // arrays, a connection that first saw one-request batches re-planned every later statement (~1 ms each).
    const input = requests.map((r, n) => ({
      n,
      id: uuidv7(),
      actor: r.actorKeyId,
      key: r.idempotencyKey,
      fingerprint: r.fingerprint,
      proceed: r.proceed,
      org_id: r.orgId,
      channel: r.row.channel,
      amount_fen: r.row.amountFen.toString(),
      occurred_on: r.row.occurredOn,
      region_code: r.row.regionCode,
      supplier: r.row.supplier,
      supplier_credit_code: r.row.supplierCreditCode,
      product: r.row.product,
      voucher_no: r.row.voucherNo,
      voucher_key: r.row.voucherKey,
      external_ref: r.row.externalRef,
      note: r.row.note,
    }))
    return queryPrepared<CheckedInsertOutcome>(
      ex,
      sql`with req as (
          select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
                     as u(n int, id uuid, actor uuid, key text, fingerprint text, proceed boolean, org_id uuid,
                          channel text, amount_fen bigint, occurred_on date, region_code text, supplier text,
                          supplier_credit_code text, product text, voucher_no text, voucher_key text,
                          external_ref text, note text)
        ), chk as (
          select req.*,
                 exists(select 1 from regions where code = req.region_code) as region_ok,
                 exists(select 1 from orgs where id = req.org_id) as org_ok,
                 (select p.id from purchases p where p.status = 'active' and p.voucher_key = req.voucher_key
                   order by p.voucher_dup_rank limit 1) as clash_id,
                 prior.*
            from req
            -- LATERAL … LIMIT 1: an index probe per request whatever the planner guesses of the batch size
            -- (a plain join may hash the whole table).
            left join lateral (
              select k.fingerprint as prior_fingerprint, k.response_status as prior_status,
                     k.response_body as prior_body
                from idempotency_keys k
               where k.api_key_id = req.actor and k.key = req.key
               limit 1) prior on true
        ), ins as (
          insert into purchases (id, channel, amount_fen, occurred_on, year, org_id, region_code, supplier,
                                 supplier_credit_code, product, voucher_no, voucher_key, external_ref, note,
                                 created_by)
          select id, channel, amount_fen, occurred_on, extract(year from occurred_on)::smallint, org_id,
                 region_code, supplier, supplier_credit_code, product, voucher_no, voucher_key, external_ref, note,
                 actor
            from chk
           where proceed and region_ok and org_ok and clash_id is null and prior_status is null
          returning *
        ), body as (
          select ins.id, ins.created_by, purchase_json(ins::purchases) as json from ins
        ), audit as (
          insert into audit_log (actor_key_id, action, entity, entity_id, after)
          select body.created_by, 'purchase.created', 'purchase', body.id::text, body.json from body
        ), idem as (
          insert into idempotency_keys (api_key_id, key, fingerprint, response_status, response_body)
          select chk.actor, chk.key, chk.fingerprint, 201, body.json
            from body join chk on chk.id = body.id
           where chk.key is not null
        )
        select chk.region_ok as "regionOk", chk.org_ok as "orgOk", chk.clash_id as "clashId",
               body.json as created, chk.prior_fingerprint as "priorFingerprint",
               chk.prior_status as "priorStatus", chk.prior_body as "priorBody"
          from chk left join body on body.id = chk.id
         order by chk.n`,
    )
  },

  async findById(ex: Executor, id: string): Promise<PurchaseOut | undefined> {
    const [row] = await queryRows<{ json: PurchaseOut }>(
      ex,
      sql`select purchase_json(p) as json from purchases p where p.id = ${id}`,
    )
    return row?.json
  },

  /**
   * The active record holding each of these voucher keys (of those held): the earliest when several do
   * (near-duplicates stored before migration 0007).
   */
  async activeByVoucherKeys(ex: Executor, keys: string[]): Promise<{ id: string; voucherKey: string }[]> {
    if (keys.length === 0) return []
    return queryRows(
      ex,
      sql`select distinct on (voucher_key) id, voucher_key as "voucherKey" from purchases
           where status = 'active' and voucher_key = any(${sql.param(keys)}::text[])
           order by voucher_key, voucher_dup_rank`,
    )
  },

  /** Voids an active record; undefined when it is not active (or does not exist). */
  async voidActive(ex: Executor, id: string, reason: string, actorKeyId: string) {
    const [row] = await queryRows<{ before: PurchaseOut; after: PurchaseOut }>(
      ex,
      sql`with old as (select * from purchases where id = ${id} and status = 'active' for update),
               upd as (update purchases p set status = 'voided', voided_at = now(), void_reason = ${reason},
                              voided_by = ${actorKeyId}::uuid
                         from old where p.id = old.id returning p.*)
          select purchase_json(old::purchases) as before, purchase_json(upd::purchases) as after from old, upd`,
    )
    return row
  },

  async existingOrgIds(ex: Executor, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const rows = await queryRows<{ id: string }>(
      ex,
      sql`select id from orgs where id = any(${sql.param(ids)}::uuid[])`,
    )
    return new Set(rows.map((r) => r.id))
  },

  async regionCodes(ex: Executor): Promise<Set<string>> {
    const rows = await queryRows<{ code: string }>(ex, sql`select code from regions`)
    return new Set(rows.map((r) => r.code))
  },

  /** Keyset page ordered by occurred_on desc, id desc, starting after `after` when given. */
  async list(
    ex: Executor,
    filters: PurchaseFilters,
    after: { occurredOn: string; id: string } | undefined,
    limit: number,
  ): Promise<PurchaseOut[]> {
    // Prepared: one text per combination of filters given, so a handful of shapes.
    const rows = await queryPrepared<{ json: PurchaseOut }>(
      ex,
      sql`select purchase_json(p) as json from purchases p
           where ${whereClause(filters)}
             ${after ? sql`and (p.occurred_on, p.id) < (${after.occurredOn}::date, ${after.id}::uuid)` : sql``}
           -- NULLS LAST as in the indexes (drizzle-kit writes them so); plain DESC would not match them and
           -- PostgreSQL would sort the whole year instead of walking purchases_list_idx.
           order by p.occurred_on desc nulls last, p.id desc nulls last
           limit ${limit}`,
    )
    return rows.map((r) => r.json)
  },
}

/** The list/export filters as one SQL condition over alias `p`. */
export function whereClause(f: PurchaseFilters) {
  const parts = [
    f.status === 'all' ? sql`true` : sql`p.status = ${f.status}`,
    f.year !== undefined ? sql`p.year = ${f.year}` : undefined,
    f.channel ? sql`p.channel = ${f.channel}` : undefined,
    f.org_id ? sql`p.org_id = ${f.org_id}::uuid` : undefined,
    f.region_code ? sql`p.region_code = ${f.region_code}` : undefined,
    f.from ? sql`p.occurred_on >= ${f.from}::date` : undefined,
    f.to ? sql`p.occurred_on <= ${f.to}::date` : undefined,
    f.voucher_no ? sql`p.voucher_key = ${voucherKey(f.voucher_no)}` : undefined,
    f.external_ref ? sql`p.external_ref = ${f.external_ref}` : undefined,
  ].filter((p) => p !== undefined)
  return sql.join(parts, sql` and `)
}
