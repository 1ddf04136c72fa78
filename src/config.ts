import { z } from 'zod'

const port = z.coerce.number().int().min(0).max(65535)

/** The environment, validated in one place. `loadConfig` is pure: it reads only the object it is given. */
export const configSchema = z
  .object({
    PORT: port.default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(6000),
    PG_POOL_MAX: z.coerce.number().int().min(1).max(200).default(20),
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
  }))

export type Config = z.output<typeof configSchema>

export class ConfigError extends Error {}

/** Validates the environment; throws ConfigError with one line naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const result = configSchema.safeParse(cleaned)
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')
    throw new ConfigError(`invalid configuration: ${problems}`)
  }
  return result.data
}
