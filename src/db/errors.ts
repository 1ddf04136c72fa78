/**
 * The one place that reads database error codes (SQLSTATE) and constraint names: `asDbError` turns a
 * driver error into one of the typed errors below, so services, plugins and `inTransaction` ask "is this
 * the org-name clash?" or "is the database down?" without knowing how PostgreSQL spells it.
 */

/** Unique constraints a caller may react to, by the name the schema gives them. */
const UNIQUE_KEYS = {
  purchases_active_voucher_key: 'purchase_voucher',
  idempotency_keys_api_key_id_key_pk: 'idempotency_key',
  orgs_name_key: 'org_name',
  api_keys_key_hash_key: 'api_key_hash',
  regions_pkey: 'region_code',
  targets_year_channel_pk: 'year_target',
  canteen_budgets_year_org_id_pk: 'canteen_budget',
} as const
export type UniqueKey = (typeof UNIQUE_KEYS)[keyof typeof UNIQUE_KEYS]

/** Foreign keys, by the name the schema gives them. */
const FOREIGN_KEYS = {
  api_keys_org_id_orgs_id_fk: 'api_key_org',
  canteen_budgets_org_id_orgs_id_fk: 'canteen_budget_org',
  purchases_org_id_orgs_id_fk: 'purchase_org',
  purchases_region_code_regions_code_fk: 'purchase_region',
  purchases_created_by_api_keys_id_fk: 'purchase_created_by',
  purchases_voided_by_api_keys_id_fk: 'purchase_voided_by',
} as const
export type ForeignKey = (typeof FOREIGN_KEYS)[keyof typeof FOREIGN_KEYS]

/** A classified database error; `cause` is the driver's error, `sqlstate` its code when it has one. */
abstract class DbError extends Error {
  constructor(
    message: string,
    readonly sqlstate: string | undefined,
    cause: unknown,
  ) {
    super(message, { cause })
    this.name = new.target.name
  }
}

/** A unique constraint refused a row (a concurrent write won the name, voucher, key …). */
export class UniqueViolation extends DbError {
  constructor(
    readonly key: UniqueKey,
    cause: unknown,
  ) {
    super(`unique violation: ${key}`, '23505', cause)
  }
}

/** A foreign key refused a row (the referenced row does not exist, or no longer does). */
export class ForeignKeyViolation extends DbError {
  constructor(
    readonly key: ForeignKey,
    cause: unknown,
  ) {
    super(`foreign key violation: ${key}`, '23503', cause)
  }
}

/** PostgreSQL aborted the transaction to resolve a conflict (serialization failure, deadlock): retry it. */
export class TransactionConflict extends DbError {}

/**
 * A value only a malformed request can produce reached the database (bad uuid/date/number text, a NUL or
 * untranslatable character): the client's error, not ours.
 */
export class MalformedValue extends DbError {}

/**
 * A number beyond its column's range (22003): with every request value validated first, this is a total the
 * rollups cannot hold — a cell tops out at 2^63 − 1 fen. The write is refused; nothing changes.
 */
export class OutOfRange extends DbError {}

/** The database is not there right now (connection failure, shutdown, too many connections, PGlite closed). */
export class DatabaseUnavailable extends DbError {}

/**
 * The database is there but cannot store: its disk is full (53100), failing (58030 I/O error) or read-only,
 * or it ran out of memory or file handles (53200, 53000). Nothing was stored; the request can be retried once the cause
 * is fixed, which takes an operator, so it is logged as an error.
 */
export class StorageFailure extends DatabaseUnavailable {}

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']) // serialization failure, deadlock detected
const MALFORMED_SQLSTATES = new Set(['22P02', '22007', '22008', '22021', '22P05'])
const UNAVAILABLE_SQLSTATES = /^(08|57P0|53300|57014)/
const STORAGE_SQLSTATES = new Set(['53000', '53100', '53200', '58030'])

/**
 * A full or failing disk, or no memory or file handles; also a read-only file system, which PostgreSQL
 * reports as a privilege error (42501, EROFS) told apart by its message.
 */
function isStorageFailure(err: unknown, sqlstate: string): boolean {
  return (
    STORAGE_SQLSTATES.has(sqlstate) ||
    (sqlstate === '42501' && /Read-only file system/.test(rootMessage(err)))
  )
}
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'])
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|PGlite is closed/i

/** The error and its causes (drizzle wraps the driver's error), at most five deep. */
function* causes(err: unknown): Generator<{ code?: unknown; message?: unknown; constraint?: unknown }> {
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    yield e as { code?: unknown; message?: unknown; constraint?: unknown }
  }
}

/**
 * The driver's own message (drizzle's wrapper says only "Failed query: <sql>"): the innermost error's, with
 * its SQLSTATE — what an operator needs to see, e.g. `could not extend file "base/5/16390": No space left on
 * device (SQLSTATE 53100)`.
 */
export function rootMessage(err: unknown): string {
  let root: { code?: unknown; message?: unknown } = {}
  for (const e of causes(err)) if (typeof e.message === 'string') root = e
  const message = typeof root.message === 'string' ? root.message : String(err)
  return typeof root.code === 'string' ? `${message} (${sqlstateOrCode(root.code)})` : message
}

const sqlstateOrCode = (code: string) => (/^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : code)

/** The SQLSTATE of a database error, looking through drizzle's wrapping (`cause`). */
function pgErrorCode(err: unknown): string | undefined {
  for (const e of causes(err)) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code
  }
  return undefined
}

/** The constraint a database error names, looking through drizzle's wrapping. */
function pgConstraint(err: unknown): string | undefined {
  for (const e of causes(err)) {
    if (typeof e.constraint === 'string') return e.constraint
  }
  return undefined
}

function isUnavailable(err: unknown, sqlstate: string | undefined): boolean {
  if (sqlstate && UNAVAILABLE_SQLSTATES.test(sqlstate)) return true
  for (const { code, message } of causes(err)) {
    if (typeof code === 'string' && UNAVAILABLE_NODE_CODES.has(code)) return true
    // 55000 is a broad class (object not in prerequisite state); only its refused-connection form is an
    // outage: `database "x" is not currently accepting connections` (ALLOW_CONNECTIONS false, being dropped).
    if (
      code === '55000' &&
      typeof message === 'string' &&
      /is not currently accepting connections/.test(message)
    )
      return true
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)) return true
  }
  return false
}

const lookup = <T extends Record<string, string>>(
  table: T,
  name: string | undefined,
): T[keyof T] | undefined =>
  name !== undefined && Object.hasOwn(table, name) ? (table[name] as T[keyof T]) : undefined

/**
 * `err` as a typed database error (`UniqueViolation`, `ForeignKeyViolation`, `TransactionConflict`,
 * `MalformedValue`, `OutOfRange`, `StorageFailure`, `DatabaseUnavailable`), or `err` itself when it is none of them (including a violation
 * of a constraint not listed here: nobody reacts to it, so it stays a plain error).
 */
export function asDbError(err: unknown): unknown {
  if (err instanceof DbError) return err
  const sqlstate = pgErrorCode(err)
  const message = err instanceof Error ? err.message : 'database error'
  if (sqlstate === '23505') {
    const key = lookup(UNIQUE_KEYS, pgConstraint(err))
    return key ? new UniqueViolation(key, err) : err
  }
  if (sqlstate === '23503') {
    const key = lookup(FOREIGN_KEYS, pgConstraint(err))
    return key ? new ForeignKeyViolation(key, err) : err
  }
  if (sqlstate && RETRYABLE_SQLSTATES.has(sqlstate)) return new TransactionConflict(message, sqlstate, err)
  if (sqlstate && MALFORMED_SQLSTATES.has(sqlstate)) return new MalformedValue(message, sqlstate, err)
  if (sqlstate === '22003') return new OutOfRange(message, sqlstate, err)
  if (sqlstate && isStorageFailure(err, sqlstate)) return new StorageFailure(rootMessage(err), sqlstate, err)
  if (isUnavailable(err, sqlstate)) return new DatabaseUnavailable(message, sqlstate, err)
  return err
}

/** Whether `err` is a unique violation of one of `keys` (of any listed key when none is given). */
export function isUniqueViolation(err: unknown, ...keys: UniqueKey[]): boolean {
  const e = asDbError(err)
  return e instanceof UniqueViolation && (keys.length === 0 || keys.includes(e.key))
}
