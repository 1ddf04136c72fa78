import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { claimDataDir, DataDirBusyError } from './data-dir-lock.js'

/** The only file that reads process.env: load config, build the app, listen, close gracefully. */
async function main() {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }

  let releaseDataDir = () => {}
  if (!config.databaseUrl) {
    try {
      releaseDataDir = claimDataDir(config.dataDir)
    } catch (err) {
      if (err instanceof DataDirBusyError) {
        console.error(`failed to start: ${err.message}`)
        process.exit(1)
      }
      throw err
    }
  }

  const app = await buildApp({
    config,
    logger: {
      level: config.logLevel,
      // Secrets never reach the logs, whatever a future log line includes.
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', '*.secret', 'secret', '*.adminApiKey'],
        censor: '[redacted]',
      },
    },
  })
  // Production timeouts: a slow client cannot hold a socket forever.
  app.server.requestTimeout = 120_000
  app.server.keepAliveTimeout = 72_000

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    // Stops accepting, finishes in-flight requests, then closes the pool / PGlite (onClose hooks).
    await app.close()
    releaseDataDir()
  })

  await app.listen({ port: config.port, host: config.host })
  app.log.info(
    { database: config.databaseUrl ? 'postgresql' : `pglite:${config.dataDir}` },
    'procurement tracker ready',
  )
}

main().catch((err) => {
  console.error(`failed to start: ${(err as Error).message}`)
  process.exit(1)
})
