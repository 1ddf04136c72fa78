import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

t.test('defaults', async (t) => {
  t.same(loadConfig({}), {
    port: 3000,
    host: '127.0.0.1',
    databaseUrl: undefined,
    dataDir: './data',
    logLevel: 'info',
    adminApiKey: undefined,
    rateLimitPerMinute: 6000,
    pgPoolMax: 20,
    authFailuresPerMinute: 120,
    trustProxy: undefined,
    bulkConcurrency: 8,
    bulkConcurrencyPerKey: 2,
    exportStallTimeoutMs: 60_000,
  })
})

t.test('empty variables count as unset', async (t) => {
  const c = loadConfig({ PORT: '', DATABASE_URL: '', ADMIN_API_KEY: '' })
  t.equal(c.port, 3000)
  t.equal(c.databaseUrl, undefined)
  t.equal(c.adminApiKey, undefined)
})

t.test('every variable is read', async (t) => {
  const c = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    DATABASE_URL: 'postgresql://u:p@db:5432/tracker',
    DATA_DIR: '/var/lib/tracker',
    LOG_LEVEL: 'warn',
    ADMIN_API_KEY: 'a-long-enough-admin-secret',
    RATE_LIMIT_PER_MINUTE: '0',
    PG_POOL_MAX: '50',
    AUTH_FAILURES_PER_MINUTE: '0',
    TRUST_PROXY: '10.0.0.0/8, 192.168.1.2,loopback, fd00::/8',
    BULK_CONCURRENCY: '4',
    BULK_CONCURRENCY_PER_KEY: '1',
    EXPORT_STALL_TIMEOUT_MS: '5000',
  })
  t.same(c, {
    port: 8080,
    host: '0.0.0.0',
    databaseUrl: 'postgresql://u:p@db:5432/tracker',
    dataDir: '/var/lib/tracker',
    logLevel: 'warn',
    adminApiKey: 'a-long-enough-admin-secret',
    rateLimitPerMinute: 0,
    pgPoolMax: 50,
    authFailuresPerMinute: 0,
    trustProxy: ['10.0.0.0/8', '192.168.1.2', 'loopback', 'fd00::/8'],
    bulkConcurrency: 4,
    bulkConcurrencyPerKey: 1,
    exportStallTimeoutMs: 5000,
  })
})

t.test('pure: reads only the object it is given', async (t) => {
  const saved = process.env.PORT
  process.env.PORT = '1234'
  t.teardown(() => {
    if (saved === undefined) delete process.env.PORT
    else process.env.PORT = saved
  })
  t.equal(loadConfig({}).port, 3000)
  const env = { PORT: '4000' }
  loadConfig(env)
  t.same(env, { PORT: '4000' }, 'input untouched')
})

t.test('a bad PORT is a ConfigError with one line naming it', async (t) => {
  for (const port of ['abc', '70000', '-1', '1.5', '0x10', '1e3', ' ', '3000 ']) {
    const err = configError({ PORT: port })
    t.match(err.message, /^invalid configuration: PORT /, `PORT="${port}"`)
    t.notMatch(err.message, /\n/, 'one line')
  }
})

t.test('a bad DATABASE_URL is a ConfigError', async (t) => {
  for (const url of ['mysql://localhost/db', 'localhost:5432', 'postgres:/x']) {
    const err = configError({ DATABASE_URL: url })
    t.match(err.message, /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/, url)
    t.notMatch(err.message, /\n/)
  }
})

t.test('every bad variable is named on the one line, and no value is echoed', async (t) => {
  const secret = 'short\nsecret'
  const err = configError({
    PORT: 'x',
    LOG_LEVEL: 'loud',
    ADMIN_API_KEY: secret,
    RATE_LIMIT_PER_MINUTE: '-5',
    PG_POOL_MAX: '0',
    BULK_CONCURRENCY: '0',
    BULK_CONCURRENCY_PER_KEY: 'two',
    EXPORT_STALL_TIMEOUT_MS: '10',
  })
  for (const name of [
    'PORT',
    'LOG_LEVEL',
    'ADMIN_API_KEY',
    'RATE_LIMIT_PER_MINUTE',
    'PG_POOL_MAX',
    'BULK_CONCURRENCY',
    'BULK_CONCURRENCY_PER_KEY',
    'EXPORT_STALL_TIMEOUT_MS',
  ]) {
    t.match(err.message, name)
  }
  t.notMatch(err.message, /\n/)
  t.notMatch(err.message, 'secret', 'the admin key is not in the message')
})

t.test('TRUST_PROXY takes addresses and CIDR ranges only', async (t) => {
  for (const value of ['yes', 'true', '10.0.0.0/33', '10.0.0.1,', '::1/129', '10.0.0.0/8/1', '1']) {
    t.match(configError({ TRUST_PROXY: value }).message, /^invalid configuration: TRUST_PROXY /, value)
  }
})
