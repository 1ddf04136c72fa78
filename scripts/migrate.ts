/** `npm run migrate`: applies pending migrations to the configured database (PGlite in DATA_DIR or DATABASE_URL). */
import { ConfigError, loadConfig } from '../src/config.js'
import { openDatabase } from '../src/db/client.js'
import { runMigrations } from '../src/db/migrate.js'

async function main() {
  const config = loadConfig(process.env)
  const database = openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: 1,
  })
  try {
    await runMigrations(database)
  } finally {
    await database.close()
  }
  console.log(`migrations applied (${config.databaseUrl ? 'postgresql' : `pglite:${config.dataDir}`})`)
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : `migration failed: ${(err as Error).message}`)
  process.exit(1)
})
