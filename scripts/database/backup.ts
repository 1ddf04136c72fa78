/**
 * `npm run backup -- <folder>`: a consistent backup of the configured database, taken while the server runs
 * (one snapshot), into a new folder that is itself a data directory of the embedded default: keep it, copy it
 * elsewhere, and bring it back with `npm run restore -- <folder>` (or start a server with DATA_DIR=<folder>).
 */
import { existsSync, readdirSync } from 'node:fs'
import { ConfigError, loadConfig } from '../../src/config.js'
import { openEmbeddedDatabase, openTaskDatabase } from '../../src/db/client.js'
import { CopyError, copyDatabase } from '../../src/db/copy.js'
import { EmbeddedPostgresError } from '../../src/db/embedded-postgres.js'
import { printCopy } from './report.js'

async function main() {
  const folder = process.argv[2]
  if (!folder) throw new CopyError('usage: npm run backup -- <new folder>')
  if (existsSync(folder) && readdirSync(folder).length > 0) {
    throw new CopyError(`${folder} exists and is not empty: give a new folder for each backup`)
  }
  const config = loadConfig(process.env)
  const source = await openTaskDatabase(config)
  const target = await openEmbeddedDatabase({ dataDir: folder, exclusive: true, poolMax: 2 })
  try {
    printCopy(`backup → ${folder}`, await copyDatabase(source, target))
    console.log(`verified. Restore with: npm run restore -- ${folder}`)
  } finally {
    await target.close()
    await source.close()
  }
}

main().catch((err) => {
  const known = err instanceof CopyError || err instanceof EmbeddedPostgresError || err instanceof ConfigError
  console.error(`backup: ${known ? err.message : (err as Error).stack}`)
  process.exit(1)
})
