import Fastify, { type FastifyInstance } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Config } from './config.js'
import { type Database, openDatabase, openEmbeddedDatabase } from './db/client.js'
import { runMigrations } from './db/migrate.js'
import { upgradeFromPglite } from './db/pglite-upgrade.js'
import type { Deps } from './deps.js'
import { requestIdOf } from './http/request-id.js'
import { installWorkLimit } from './http/work-limit.js'
import { purgeExpiredIdempotencyKeys } from './idempotency/idempotency.js'
import { createApiKeysService, createPrincipalLookup } from './modules/api-keys/index.js'
import { healthRoutes } from './modules/health/health.routes.js'
import { installAuth } from './plugins/auth.js'
import { errorHandlerPlugin, sendClientError, sendProblem } from './plugins/error-handler.js'
import { jsonBodyPlugin } from './plugins/json-body.js'
import { openapiPlugin } from './plugins/openapi.js'
import { installAuthFailureLimit, installRateLimit } from './plugins/rate-limit.js'
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

/** The embedded server's log lines: its failures at error, warnings at warn, the rest at debug. */
function embeddedLog(app: FastifyInstance) {
  const log = app.log.child({ component: 'embedded-postgres' })
  return (line: string) => {
    // The service's own lines about its server (`ERROR: … is gone; starting it again`) start with the level.
    if (/\b(PANIC|FATAL):/.test(line) || line.startsWith('ERROR:')) log.error(line)
    else if (/\bWARNING:/.test(line)) log.warn(line)
    // A statement's ERROR (a duplicate voucher's unique violation, say) is the request's answer, logged
    // by the service where it matters; the server's copy of it is detail.
    else log.debug(line)
  }
}

/**
 * The database the app uses: the one given (tests), else PostgreSQL at DATABASE_URL, else the embedded
 * server in DATA_DIR, which this app owns (starts, or adopts after a crash) and stops when it closes.
 */
async function appDatabase(app: FastifyInstance, opts: BuildAppOptions): Promise<Database> {
  if (opts.database) return opts.database
  const { config } = opts
  const poolOptions = {
    poolMax: config.pgPoolMax,
    onPoolError: (err: Error) =>
      app.log.warn({ err: { message: err.message } }, 'idle database connection lost'),
  }
  const database = config.databaseUrl
    ? openDatabase({ databaseUrl: config.databaseUrl, ...poolOptions })
    : await openEmbeddedDatabase({
        dataDir: config.dataDir,
        exclusive: true,
        onLog: embeddedLog(app),
        ...poolOptions,
      })
  app.addHook('onClose', async () => database.close())
  // A data directory of the earlier PGlite default is copied in (once) before anything else runs.
  if (!config.databaseUrl) {
    await upgradeFromPglite(config.dataDir, database, (line) => app.log.warn(line)).catch(async (err) => {
      await database.close()
      throw err
    })
  }
  return database
}

/** The /v1 routes, behind authentication and rate limiting. */
async function registerV1(app: FastifyInstance, deps: Deps) {
  await app.register(
    async (v1) => {
      // In this order: the per-address budget of failed authentications (before any key lookup), the
      // key lookup, the imports and exports at once (routes marked `bulk`), then the per-key limit.
      const onRejected = installAuthFailureLimit(v1, deps.config.authFailuresPerMinute)
      installAuth(v1, createPrincipalLookup(deps.database), onRejected)
      installWorkLimit(v1, {
        perInstance: deps.config.bulkConcurrency,
        perKey: deps.config.bulkConcurrencyPerKey,
      })
      installRateLimit(v1, deps.config.rateLimitPerMinute)
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

/** Migrations, plugins in order, then the routes. */
async function registerAll(app: FastifyInstance, opts: BuildAppOptions, database: Database) {
  const { config } = opts
  await runMigrations(database)
  const deps: Deps = { config, database, db: database.db, now: opts.now ?? (() => new Date()) }
  if (config.adminApiKey) await createApiKeysService(deps).ensureAdminKey(config.adminApiKey)

  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  // Error handling first, so every later plugin's errors (including Fastify's own 400/404/413/415) are problem+json.
  await app.register(errorHandlerPlugin)
  await app.register(jsonBodyPlugin)
  await app.register(openapiPlugin)
  await app.register(healthRoutes, { deps })
  await registerV1(app, deps)
  scheduleIdempotencyPurge(app, deps)
}

/** Builds the app: database (migrated), plugins in order, then the routes. Never listens. */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: JSON_BODY_LIMIT,
    // request.ip is the peer's address unless TRUST_PROXY names the proxies whose X-Forwarded-For to believe.
    trustProxy: opts.config.trustProxy ?? false,
    // A client's X-Request-Id is used only when short and printable (it lands in the logs); see requestIdOf.
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Paths the router refuses before any route or hook runs (malformed, a parameter over maxParamLength)
    // answer problem+json like every other error, with their request id.
    frameworkErrors: (err, request, reply) =>
      sendProblem(err, request, reply.header('x-request-id', request.id)),
    // Requests Node's parser refuses (431, malformed, timed out) answer problem+json too.
    clientErrorHandler: sendClientError,
  }).withTypeProvider<ZodTypeProvider>()
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })

  const database = await appDatabase(app, opts)
  try {
    await registerAll(app, opts, database)
  } catch (err) {
    // A failed start (a migration, say) does not leave the embedded server running behind it.
    if (!opts.database) await database.close().catch(() => {})
    throw err
  }
  return app
}
