/** `npm run migrate`: applies pending migrations to the configured database (DATABASE_URL, or the embedded one in DATA_DIR). */
import { ConfigError, loadConfig } from '../src/config.js'
import { openTaskDatabase } from '../src/db/client.js'
import { EmbeddedPostgresError } from '../src/db/embedded-postgres.js'
import { runMigrations } from '../src/db/migrate.js'

async function main() {
  const config = loadConfig(process.env)
  const database = await openTaskDatabase(config)
  try {
    await runMigrations(database)
  } finally {
    await database.close()
  }
  console.log(`migrations applied (${config.databaseUrl ? 'postgresql' : `embedded:${config.dataDir}`})`)
}

main().catch((err) => {
  const known = err instanceof ConfigError || err instanceof EmbeddedPostgresError
  console.error(known ? err.message : `migration failed: ${(err as Error).message}`)
  process.exit(1)
})
