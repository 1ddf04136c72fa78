/**
 * `npm run restore -- <backup folder>`: puts a backup made by `npm run backup` back, with the server stopped.
 * Embedded default: the current database moves aside to `DATA_DIR/before-restore-<time>/` (nothing is
 * deleted) and a new one receives the backup. PostgreSQL (DATABASE_URL): the database must be empty (create
 * a new one). Either way the copy is verified table by table before it is committed.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '../../src/config.js'
import { openDatabase, openEmbeddedDatabase } from '../../src/db/client.js'
import { CopyError, copyDatabase } from '../../src/db/copy.js'
import { EmbeddedPostgresError, embeddedPaths, runningCluster } from '../../src/db/embedded-postgres.js'
import { printCopy } from './report.js'

/** Moves the embedded database of DATA_DIR aside (server stopped), so the restore starts from a new one. */
function setCurrentAside(dataDir: string): string | undefined {
  const paths = embeddedPaths(dataDir)
  if (!existsSync(paths.cluster)) return undefined
  if (runningCluster(paths)) throw new CopyError('stop the server first: its database is in use')
  const aside = join(dataDir, `before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  mkdirSync(aside, { mode: 0o700 })
  renameSync(paths.cluster, join(aside, 'postgres'))
  renameSync(paths.secret, join(aside, 'postgres.secret'))
  return aside
}

async function main() {
  const folder = process.argv[2]
  if (!folder || !existsSync(embeddedPaths(folder).cluster)) {
    throw new CopyError('usage: npm run restore -- <folder made by npm run backup>')
  }
  const config = loadConfig(process.env)
  const aside = config.databaseUrl ? undefined : setCurrentAside(config.dataDir)
  const source = await openEmbeddedDatabase({ dataDir: folder, exclusive: true, poolMax: 2 })
  const target = config.databaseUrl
    ? openDatabase({ databaseUrl: config.databaseUrl, poolMax: 2 })
    : await openEmbeddedDatabase({ dataDir: config.dataDir, exclusive: true, poolMax: 2 })
  try {
    printCopy(
      `${folder} → ${config.databaseUrl ? 'DATABASE_URL' : config.dataDir}`,
      await copyDatabase(source, target),
    )
    console.log(`verified.${aside ? ` The database it replaced is in ${aside}.` : ''}`)
  } finally {
    await target.close()
    await source.close()
  }
}

main().catch((err) => {
  const known = err instanceof CopyError || err instanceof EmbeddedPostgresError || err instanceof ConfigError
  console.error(`restore: ${known ? err.message : (err as Error).stack}`)
  process.exit(1)
})
