import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { type Config, ConfigError, loadConfig } from './config.js'
import { rootMessage } from './db/errors.js'

/** Exits with the message when the error is one the operator can fix (bad config, data dir in use). */
function orExit<T>(fn: () => T, expected: (err: unknown) => string | undefined): T {
  try {
    return fn()
  } catch (err) {
    const message = expected(err)
    if (message === undefined) throw err
    console.error(message)
    process.exit(1)
  }
}

/** pino options: the configured level, secrets redacted. */
const loggerOptions = (config: Config) => ({
  level: config.logLevel,
  // Secrets never reach the logs, whatever a future log line includes.
  redact: {
    paths: ['req.headers.authorization', 'headers.authorization', '*.secret', 'secret', '*.adminApiKey'],
    censor: '[redacted]',
  },
})

/** The only file that reads process.env: load config, build the app, listen, close gracefully. */
async function main() {
  const config = orExit(
    () => loadConfig(process.env),
    (err) => (err instanceof ConfigError ? err.message : undefined),
  )
  const app = await buildApp({ config, logger: loggerOptions(config) })
  // Production timeouts (README "Timeouts"): a slow client cannot hold a socket forever. Node checks the first
  // two every 30 s (connectionsCheckingInterval), so they fire up to 30 s late. An export that stops moving
  // is dropped by its own idle limit (EXPORT_STALL_TIMEOUT_MS); there is no idle limit on other answers (they
  // are small, and the socket buffers take them whole) nor on the time a handler works.
  app.server.headersTimeout = 30_000 // the request line and headers
  app.server.requestTimeout = 120_000 // the whole request, body included (64 MiB in 120 s ≈ 0.55 MB/s)
  app.server.keepAliveTimeout = 72_000 // between requests; above the 60 s idle limit of common load balancers

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    // Stops accepting, finishes in-flight requests, then closes the pool and stops the embedded server.
    await app.close()
  })

  await app.listen({ port: config.port, host: config.host })
  app.log.info(
    { database: config.databaseUrl ? 'postgresql' : `embedded:${config.dataDir}` },
    'procurement tracker ready',
  )
}

main().catch((err) => {
  // drizzle's wrapper names only the query ("Failed query: CREATE SCHEMA …"): the driver's error says why.
  const message = (err as Error).message
  const cause = rootMessage(err)
  console.error(`failed to start: ${cause.startsWith(message) ? cause : `${message}\n  cause: ${cause}`}`)
  process.exit(1)
})
