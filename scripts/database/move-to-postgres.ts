/**
 * `npm run move-to-postgres -- <DATABASE_URL>`: copies the embedded database in DATA_DIR into an empty
 * PostgreSQL database and verifies the copy table by table (row counts and a hash of every row; totals
 * through the rollups' sums). Run it with the server stopped, then start the service with that DATABASE_URL.
 */
import { ConfigError, loadConfig } from '../../src/config.js'
import { openDatabase, openEmbeddedDatabase } from '../../src/db/client.js'
import { CopyError, copyDatabase } from '../../src/db/copy.js'
import { EmbeddedPostgresError } from '../../src/db/embedded-postgres.js'
import { printCopy } from './report.js'

async function main() {
  const url = process.argv[2]
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    throw new CopyError('usage: npm run move-to-postgres -- postgres://user:password@host:5432/database')
  }
  const config = loadConfig({ ...process.env, DATABASE_URL: undefined })
  // Exclusive: with the server stopped, nothing is written after the copy starts and left behind.
  const source = await openEmbeddedDatabase({ dataDir: config.dataDir, exclusive: true, poolMax: 2 })
  const target = openDatabase({ databaseUrl: url, poolMax: 2 })
  try {
    printCopy(`${config.dataDir} → ${url.replace(/\/\/[^@]*@/, '//…@')}`, await copyDatabase(source, target))
    console.log(
      `verified. Start the service with DATABASE_URL set to that database; ${config.dataDir} is unchanged.`,
    )
  } finally {
    await target.close()
    await source.close()
  }
}

main().catch((err) => {
  const known = err instanceof CopyError || err instanceof EmbeddedPostgresError || err instanceof ConfigError
  console.error(`move-to-postgres: ${known ? err.message : (err as Error).stack}`)
  process.exit(1)
})
