/**
 * Data directories of the earlier embedded default (PGlite, its files straight in DATA_DIR) are upgraded on
 * the first start of the embedded PostgreSQL: PGlite's files move into `DATA_DIR/pglite-before-upgrade/`,
 * every row is copied into the new cluster and verified (`copy.ts`), and only then is the upgrade marked
 * done. The old files are kept; delete that folder once the service runs well. A failed copy changes nothing
 * in the new cluster (one transaction) and is tried again at the next start.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Database, openPglite } from './client.js'
import { copyDatabase } from './copy.js'

export const PGLITE_FOLDER = 'pglite-before-upgrade'
const DONE_MARKER = 'UPGRADED'
/** What the embedded PostgreSQL keeps in DATA_DIR (everything else there was PGlite's). */
const OURS = new Set(['postgres', 'postgres.secret', PGLITE_FOLDER])

/** Moves PGlite's files (PG_VERSION, base/, global/ …) out of DATA_DIR's top level into their own folder. */
function setPgliteFilesAside(dataDir: string, folder: string) {
  mkdirSync(folder, { recursive: true, mode: 0o700 })
  for (const entry of readdirSync(dataDir)) {
    if (!OURS.has(entry) && !entry.startsWith('postgres.init-'))
      renameSync(join(dataDir, entry), join(folder, entry))
  }
}

/** Copies a PGlite data directory found in DATA_DIR into `target` (the new embedded cluster), once. */
export async function upgradeFromPglite(
  dataDir: string,
  target: Database,
  log: (line: string) => void = () => {},
): Promise<void> {
  const folder = join(dataDir, PGLITE_FOLDER)
  if (existsSync(join(dataDir, 'PG_VERSION'))) setPgliteFilesAside(dataDir, folder)
  if (!existsSync(join(folder, 'PG_VERSION')) || existsSync(join(folder, DONE_MARKER))) return
  log(`upgrading the PGlite data in ${folder} to the embedded PostgreSQL`)
  const source = openPglite(folder)
  try {
    const { rows } = await copyDatabase(source, target)
    writeFileSync(join(folder, DONE_MARKER), `${new Date().toISOString()} ${JSON.stringify(rows)}\n`)
    log(`upgrade done and verified: ${JSON.stringify(rows)}; the old files stay in ${folder}`)
  } finally {
    await source.close()
  }
}
