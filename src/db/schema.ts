/**
 * Database tables. Money columns are integer fen (`bigint`, mode bigint). Every invariant the code checks
 * for a good message is also enforced here, so two server instances stay correct under concurrency.
 * Triggers (append-only audit log, totals rollup) live in the hand-written migration after the generated one.
 */
import { sql } from 'drizzle-orm'
import {
  bigint,
  bigserial,
  char,
  check,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow()

export const orgs = pgTable(
  'orgs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('orgs_name_key').on(t.name),
    check(
      'orgs_kind_check',
      sql`${t.kind} in ('agency','public_institution','soe','trade_union','enterprise','market','street_town','aid_office','other')`,
    ),
    check('orgs_name_check', sql`length(${t.name}) between 1 and 200`),
  ],
)

export const regions = pgTable(
  'regions',
  {
    code: char('code', { length: 6 }).primaryKey(),
    name: text('name').notNull(),
    prefecture: text('prefecture').notNull(),
    province: text('province').notNull(),
    program: text('program').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    check('regions_code_check', sql`${t.code} ~ '^[0-9]{6}$'`),
    check('regions_program_check', sql`${t.program} in ('east_west_cooperation','counterpart_support')`),
  ],
)

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    role: text('role').notNull(),
    orgId: uuid('org_id').references(() => orgs.id),
    /** SHA-256 (hex) of the secret; the secret itself is never stored. */
    keyHash: text('key_hash').notNull(),
    createdAt: createdAt(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('api_keys_key_hash_key').on(t.keyHash),
    check('api_keys_role_check', sql`${t.role} in ('admin','finance','reporter')`),
    check('api_keys_reporter_org_check', sql`(${t.role} = 'reporter') = (${t.orgId} is not null)`),
  ],
)

export const purchases = pgTable(
  'purchases',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    channel: text('channel').notNull(),
    amountFen: bigint('amount_fen', { mode: 'bigint' }).notNull(),
    occurredOn: date('occurred_on', { mode: 'string' }).notNull(),
    year: smallint('year').notNull(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    regionCode: char('region_code', { length: 6 })
      .notNull()
      .references(() => regions.code),
    supplier: text('supplier').notNull(),
    supplierCreditCode: char('supplier_credit_code', { length: 18 }),
    product: text('product'),
    voucherNo: text('voucher_no'),
    /**
     * The voucher as compared (`voucherKey` in src/modules/purchases/voucher-key.ts: invisible characters,
     * width, whitespace and case do not count); set with `voucher_no`, by the app or else by a trigger.
     */
    voucherKey: text('voucher_key'),
    /**
     * 0, except on a near-duplicate that migration 0007 found among the records stored before it: then its
     * rank among the active records sharing its key (1 = the second earliest …), so the unique index
     * accepts it. The app never sets it. See docs/migrations.md.
     */
    voucherDupRank: integer('voucher_dup_rank').notNull().default(0),
    externalRef: text('external_ref'),
    note: text('note'),
    status: text('status').notNull().default('active'),
    createdAt: createdAt(),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => apiKeys.id),
    voidedAt: timestamp('voided_at', { withTimezone: true }),
    voidedBy: uuid('voided_by').references(() => apiKeys.id),
    voidReason: text('void_reason'),
  },
  (t) => [
    // One voucher counts once across every channel and org while its record is active, compared by its key.
    uniqueIndex('purchases_active_voucher_key')
      .on(t.voucherKey, t.voucherDupRank)
      .where(sql`${t.status} = 'active' and ${t.voucherKey} is not null`),
    index('purchases_list_idx').on(t.year, t.occurredOn.desc(), t.id.desc()),
    index('purchases_org_list_idx').on(t.orgId, t.occurredOn.desc(), t.id.desc()),
    index('purchases_external_ref_idx').on(t.externalRef),
    check(
      'purchases_channel_check',
      sql`${t.channel} in ('wholesale','union_welfare','enterprise','canteen','market_sales')`,
    ),
    check('purchases_amount_check', sql`${t.amountFen} > 0 and ${t.amountFen} <= 999999999999`),
    check('purchases_year_check', sql`${t.year} = extract(year from ${t.occurredOn})`),
    check('purchases_occurred_on_check', sql`${t.occurredOn} >= date '2000-01-01'`),
    check('purchases_status_check', sql`${t.status} in ('active','voided')`),
    check('purchases_void_check', sql`(${t.status} = 'voided') = (${t.voidedAt} is not null)`),
    check('purchases_voucher_key_check', sql`(${t.voucherNo} is null) = (${t.voucherKey} is null)`),
    check('purchases_voucher_dup_rank_check', sql`${t.voucherDupRank} >= 0`),
  ],
)

/** Running sums of active purchases, maintained by triggers on `purchases` (see migrations). */
export const purchaseTotals = pgTable(
  'purchase_totals',
  {
    year: smallint('year').notNull(),
    month: smallint('month').notNull(),
    channel: text('channel').notNull(),
    regionCode: char('region_code', { length: 6 }).notNull(),
    orgId: uuid('org_id').notNull(),
    /** Spreads concurrent writers of one (year, month, channel, region, org) over several rows. */
    shard: smallint('shard').notNull(),
    totalFen: bigint('total_fen', { mode: 'bigint' }).notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.year, t.month, t.channel, t.regionCode, t.orgId, t.shard] })],
)

/**
 * The same sums for whole years without the org: what `GET /v1/totals` and the region and channel breakdowns
 * read for a year to date (as_of today or later, or 31 December), a few hundred rows whatever the number of
 * records or orgs. Maintained by the same triggers.
 */
export const purchaseYearTotals = pgTable(
  'purchase_year_totals',
  {
    year: smallint('year').notNull(),
    channel: text('channel').notNull(),
    regionCode: char('region_code', { length: 6 }).notNull(),
    shard: smallint('shard').notNull(),
    totalFen: bigint('total_fen', { mode: 'bigint' }).notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.year, t.channel, t.regionCode, t.shard] })],
)

/** Canteen purchases per budget unit (org) and whole year, for the canteen figures of those same reads. */
export const canteenYearTotals = pgTable(
  'canteen_year_totals',
  {
    year: smallint('year').notNull(),
    orgId: uuid('org_id').notNull(),
    shard: smallint('shard').notNull(),
    totalFen: bigint('total_fen', { mode: 'bigint' }).notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.year, t.orgId, t.shard] })],
)

export const targets = pgTable(
  'targets',
  {
    year: smallint('year').notNull(),
    channel: text('channel').notNull(),
    kind: text('kind').notNull(),
    scope: text('scope').notNull(),
    /** For kind = amount: the target in fen. */
    amountFen: bigint('amount_fen', { mode: 'bigint' }),
    /** For kind = share: the ratio in ten-thousandths (0.10 = 1000). */
    ratioE4: integer('ratio_e4'),
  },
  (t) => [
    primaryKey({ columns: [t.year, t.channel] }),
    check(
      'targets_shape_check',
      sql`(${t.kind} = 'amount' and ${t.amountFen} > 0 and ${t.ratioE4} is null and ${t.scope} in ('district','per_region'))
       or (${t.kind} = 'share' and ${t.ratioE4} between 1 and 10000 and ${t.amountFen} is null and ${t.scope} = 'per_unit')`,
    ),
  ],
)

export const canteenBudgets = pgTable(
  'canteen_budgets',
  {
    year: smallint('year').notNull(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => orgs.id),
    canteenTotalFen: bigint('canteen_total_fen', { mode: 'bigint' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.year, t.orgId] }),
    check('canteen_budgets_total_check', sql`${t.canteenTotalFen} > 0`),
  ],
)

/** Append-only: a trigger rejects UPDATE, DELETE and TRUNCATE. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'bigint' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actorKeyId: uuid('actor_key_id'),
    action: text('action').notNull(),
    entity: text('entity').notNull(),
    entityId: text('entity_id').notNull(),
    before: jsonb('before'),
    after: jsonb('after'),
  },
  (t) => [
    index('audit_log_entity_idx').on(t.entity, t.entityId, t.id),
    index('audit_log_action_idx').on(t.action, t.id),
    index('audit_log_at_idx').on(t.at),
  ],
)

/**
 * Idempotency records. The row is inserted at the start of the effect's transaction, so a concurrent request
 * with the same key waits on the primary key and then sees the committed response (or, when the first one
 * failed and rolled back, takes the key itself). Only 2xx responses are ever committed.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    apiKeyId: uuid('api_key_id').notNull(),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    /** Filled in before the transaction commits; NULL is only ever seen inside the owning transaction. */
    responseStatus: smallint('response_status'),
    responseBody: jsonb('response_body'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.apiKeyId, t.key] }),
    index('idempotency_keys_created_idx').on(t.createdAt),
  ],
)
