import Fastify, { type FastifyInstance } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Config } from './config.js'
import { type Database, openDatabase } from './db/client.js'
import { runMigrations } from './db/migrate.js'
import type { Deps } from './deps.js'
import { requestIdOf } from './http/request-id.js'
import { installWorkLimit } from './http/work-limit.js'
import { purgeExpiredIdempotencyKeys } from './idempotency/idempotency.js'
import { createApiKeysService, createPrincipalLookup } from './modules/api-keys/index.js'
import { healthRoutes } from './modules/health/health.routes.js'
import { installAuth } from './plugins/auth.js'
import { errorHandlerPlugin, sendProblem } from './plugins/error-handler.js'
import { openapiPlugin } from './plugins/openapi.js'
import { installRateLimit } from './plugins/rate-limit.js'
import { v1Routes } from './routes.js'

export interface BuildAppOptions {
  config: Config
  /** An already-open database (tests); otherwise one is opened from the config and closed with the app. */
  database?: Database
  now?: () => Date
  /** pino options or false; the server passes its logger settings. */
  logger?: boolean | object
}

/** JSON bodies over 1 MiB are refused with 413 (the CSV import route sets its own 64 MiB limit). */
const JSON_BODY_LIMIT = 1024 * 1024

/** The database the app uses: the one given (tests), or one opened from the config and closed with the app. */
function appDatabase(app: FastifyInstance, opts: BuildAppOptions): Database {
  if (opts.database) return opts.database
  const { config } = opts
  const database = openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.pgPoolMax,
    onPoolError: (err) => app.log.warn({ err: { message: err.message } }, 'idle database connection lost'),
  })
  app.addHook('onClose', async () => database.close())
  return database
}

/** The /v1 routes, behind authentication and rate limiting. */
async function registerV1(app: FastifyInstance, deps: Deps) {
  await app.register(
    async (v1) => {
      // Authentication before rate limiting: the limit is per API key.
      installAuth(v1, createPrincipalLookup(deps.database))
      // Imports and exports at once, per instance and per key (routes marked `bulk`).
      installWorkLimit(v1, {
        perInstance: deps.config.bulkConcurrency,
        perKey: deps.config.bulkConcurrencyPerKey,
      })
      await installRateLimit(v1, deps.config.rateLimitPerMinute)
      for (const routes of v1Routes) {
        await v1.register(routes, { deps })
      }
    },
    { prefix: '/v1' },
  )
}

/** Expired idempotency keys go in the background, in small batches that never block writes. */
function scheduleIdempotencyPurge(app: FastifyInstance, deps: Deps) {
  const purge = () =>
    purgeExpiredIdempotencyKeys(deps.db).catch((err) =>
      app.log.warn({ err: { message: (err as Error).message } }, 'idempotency purge failed'),
    )
  const timer = setInterval(purge, 60 * 60 * 1000)
  timer.unref()
  app.addHook('onClose', async () => clearInterval(timer))
}

/** Builds the app: database (migrated), plugins in order, then the routes. Never listens. */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = opts
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: JSON_BODY_LIMIT,
    // A client's X-Request-Id is used only when short and printable (it lands in the logs); see requestIdOf.
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Paths the router refuses before any route or hook runs (malformed, a parameter over maxParamLength)
    // answer problem+json like every other error, with their request id.
    frameworkErrors: (err, request, reply) =>
      sendProblem(err, request, reply.header('x-request-id', request.id)),
  }).withTypeProvider<ZodTypeProvider>()
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })

  const database = appDatabase(app, opts)
  await runMigrations(database)
  const deps: Deps = { config, database, db: database.db, now: opts.now ?? (() => new Date()) }
  if (config.adminApiKey) await createApiKeysService(deps).ensureAdminKey(config.adminApiKey)

  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  // Error handling first, so every later plugin's errors (including Fastify's own 400/404/413/415) are problem+json.
  await app.register(errorHandlerPlugin)
  await app.register(openapiPlugin)
  await app.register(healthRoutes, { deps })
  await registerV1(app, deps)
  scheduleIdempotencyPurge(app, deps)
  return app
}
