import t from 'tap'
import {
  asDbError,
  DatabaseUnavailable,
  ForeignKeyViolation,
  isUniqueViolation,
  MalformedValue,
  OutOfRange,
  rootMessage,
  StorageFailure,
  TransactionConflict,
  UniqueViolation,
} from '../../src/db/errors.js'

/** A driver error as pg and PGlite raise it, wrapped the way drizzle wraps it (`cause`). */
const pgError = (code: string, extra: Record<string, unknown> = {}) =>
  new Error('Failed query', { cause: Object.assign(new Error('driver message'), { code, ...extra }) })

t.test('a unique violation of a listed constraint names its key', async (t) => {
  const err = pgError('23505', { constraint: 'orgs_name_key' })
  const typed = asDbError(err)
  t.ok(typed instanceof UniqueViolation)
  t.equal((typed as UniqueViolation).key, 'org_name')
  t.equal((typed as UniqueViolation).cause, err, 'the original error is the cause')
  t.ok(isUniqueViolation(err, 'org_name'))
  t.ok(isUniqueViolation(err, 'purchase_voucher', 'org_name'), 'any of several keys')
  t.ok(isUniqueViolation(err), 'any key')
  t.notOk(isUniqueViolation(err, 'purchase_voucher'), 'another key')
  t.equal(asDbError(typed), typed, 'a typed error stays as it is')
})

t.test('a violation of a constraint nobody reacts to stays a plain error', async (t) => {
  const err = pgError('23505', { constraint: 'purchase_totals_pkey' })
  t.equal(asDbError(err), err)
  t.notOk(isUniqueViolation(err))
})

t.test('a foreign key violation names its key', async (t) => {
  const typed = asDbError(pgError('23503', { constraint: 'purchases_region_code_regions_code_fk' }))
  t.ok(typed instanceof ForeignKeyViolation)
  t.equal((typed as ForeignKeyViolation).key, 'purchase_region')
})

t.test('serialization failures and deadlocks are transaction conflicts (retried)', async (t) => {
  for (const code of ['40001', '40P01']) t.ok(asDbError(pgError(code)) instanceof TransactionConflict, code)
})

t.test('values only a malformed request produces are MalformedValue', async (t) => {
  for (const code of ['22P02', '22007', '22008', '22021', '22P05']) {
    const typed = asDbError(pgError(code))
    t.ok(typed instanceof MalformedValue, code)
    t.equal((typed as MalformedValue).sqlstate, code)
  }
})

t.test('a number beyond its column (a rollup total past 2^63 − 1 fen) is OutOfRange', async (t) => {
  const typed = asDbError(pgError('22003'))
  t.ok(typed instanceof OutOfRange)
  t.notOk(typed instanceof MalformedValue)
})

t.test('an absent database is DatabaseUnavailable', async (t) => {
  for (const code of ['08006', '57P01', '53300', '57014']) {
    t.ok(asDbError(pgError(code)) instanceof DatabaseUnavailable, code)
  }
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
  t.ok(asDbError(refused) instanceof DatabaseUnavailable, 'a refused connection')
  t.ok(asDbError(new Error('PGlite is closed')) instanceof DatabaseUnavailable, 'PGlite closed')
  t.ok(
    asDbError(new Error('x', { cause: new Error('Connection terminated unexpectedly') })) instanceof
      DatabaseUnavailable,
  )
  const dropping = pgError('55000')
  ;(dropping.cause as Error).message = 'database "x" is not currently accepting connections'
  t.ok(asDbError(dropping) instanceof DatabaseUnavailable, '55000 refusing connections')
  t.notOk(asDbError(pgError('55000')) instanceof DatabaseUnavailable, 'any other 55000')
})

t.test('a disk that is full or failing is a StorageFailure, a kind of DatabaseUnavailable', async (t) => {
  for (const code of ['53100', '58030', '53200', '53000']) {
    const typed = asDbError(pgError(code))
    t.ok(typed instanceof StorageFailure, code)
    t.ok(typed instanceof DatabaseUnavailable, `${code} answers 503 like an outage`)
  }
  const full = new Error('Failed query: insert into "purchases" …', {
    cause: Object.assign(new Error('could not extend file "base/5/16390": No space left on device'), {
      code: '53100',
    }),
  })
  t.equal(
    (asDbError(full) as StorageFailure).message,
    'could not extend file "base/5/16390": No space left on device (SQLSTATE 53100)',
    "the driver's message is the cause, not drizzle's wrapper",
  )
  t.notOk(asDbError(pgError('53300')) instanceof StorageFailure, 'too many connections is an outage only')
  const readOnly = pgError('42501')
  ;(readOnly.cause as Error).message = 'could not extend file "base/5/16390": Read-only file system'
  t.ok(asDbError(readOnly) instanceof StorageFailure, 'a read-only file system (EROFS is reported as 42501)')
  t.notOk(asDbError(pgError('42501')) instanceof StorageFailure, 'a real privilege error is not')
})

t.test('rootMessage names the innermost error and its code', async (t) => {
  t.equal(rootMessage(new Error('top', { cause: new Error('bottom') })), 'bottom')
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  t.equal(rootMessage(new Error('x', { cause: refused })), 'connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)')
  t.equal(rootMessage('text'), 'text')
})

t.test('other errors pass through', async (t) => {
  const plain = new Error('boom')
  t.equal(asDbError(plain), plain)
  t.equal(asDbError(undefined), undefined)
  const check = pgError('23514', { constraint: 'purchases_amount_check' })
  t.equal(asDbError(check), check, 'a CHECK violation is ours, not classified')
})
