/** `npm run migrate`: applies pending migrations to the configured database (PGlite in DATA_DIR or DATABASE_URL). */
import { ConfigError, loadConfig } from '../src/config.js'
import { claimDataDir, DataDirBusyError } from '../src/data-dir-lock.js'
import { openDatabase } from '../src/db/client.js'
import { runMigrations } from '../src/db/migrate.js'

async function main() {
  const config = loadConfig(process.env)
  // The embedded database is single-process: refuse while the server has it open.
  const release = config.databaseUrl ? () => {} : claimDataDir(config.dataDir)
  const database = openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: 1,
  })
  try {
    await runMigrations(database)
  } finally {
    await database.close()
    release()
  }
  console.log(`migrations applied (${config.databaseUrl ? 'postgresql' : `pglite:${config.dataDir}`})`)
}

main().catch((err) => {
  const known = err instanceof ConfigError || err instanceof DataDirBusyError
  console.error(known ? err.message : `migration failed: ${(err as Error).message}`)
  process.exit(1)
})
