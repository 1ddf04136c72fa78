import { isIP } from 'node:net'
import { z } from 'zod'

/** A whole number written in plain decimal digits ("3000"; not " ", "0x10", "1e3" or "3000.5"). */
const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, `must be a whole number ${min}–${max}`)
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, `must be a whole number ${min}–${max}`)
        .max(max, `must be a whole number ${min}–${max}`),
    )

/** An address, a CIDR range, or one of proxy-addr's names: what Fastify's `trustProxy` list takes. */
const isProxyEntry = (entry: string) => {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true
  const [address = '', bits, ...rest] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  return bits === undefined || (/^[0-9]{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128))
}
const proxyList = z
  .string()
  .transform((s) => s.split(',').map((e) => e.trim()))
  .refine((list) => list.every(isProxyEntry), 'must be addresses or CIDR ranges, comma-separated')

/** The environment, validated in one place. `loadConfig` is pure: it reads only the object it is given. */
const configSchema = z
  .object({
    PORT: integer(0, 65535).default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
    RATE_LIMIT_PER_MINUTE: integer(0, 1_000_000_000).default(6000),
    PG_POOL_MAX: integer(1, 200).default(20),
    AUTH_FAILURES_PER_MINUTE: integer(0, 1_000_000_000).default(120),
    TRUST_PROXY: proxyList.optional(),
    BULK_CONCURRENCY: integer(1, 1000).default(8),
    BULK_CONCURRENCY_PER_KEY: integer(1, 1000).default(2),
    EXPORT_STALL_TIMEOUT_MS: integer(100, 3_600_000).default(60_000),
  })
  .transform((env) => ({
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    logLevel: env.LOG_LEVEL,
    adminApiKey: env.ADMIN_API_KEY,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    pgPoolMax: env.PG_POOL_MAX,
    authFailuresPerMinute: env.AUTH_FAILURES_PER_MINUTE,
    trustProxy: env.TRUST_PROXY,
    /** Imports and exports running at once on this instance, and per API key; more → 429. */
    bulkConcurrency: env.BULK_CONCURRENCY,
    bulkConcurrencyPerKey: env.BULK_CONCURRENCY_PER_KEY,
    /** An export response that sends nothing for this long (its client is not reading) is dropped. */
    exportStallTimeoutMs: env.EXPORT_STALL_TIMEOUT_MS,
  }))

export type Config = z.output<typeof configSchema>

export class ConfigError extends Error {}

/** Validates the environment; throws ConfigError with one line naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const result = configSchema.safeParse(cleaned)
  if (!result.success) {
    // One line, whatever a value contains; values are never echoed (ADMIN_API_KEY is a secret).
    const problems = result.error.issues
      .map((i) => `${i.path.join('.')} ${i.message}`.replace(/\s+/g, ' '))
      .join('; ')
    throw new ConfigError(`invalid configuration: ${problems}`)
  }
  return result.data
}
