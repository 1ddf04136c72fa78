import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * PGlite is an embedded database: one process per data directory. A second process (a second server,
 * or `npm run create-key` while the server runs) would open its own copy, and its writes would be lost
 * or corrupt the files. So the process that opens DATA_DIR records its pid here, and others refuse.
 */
export const LOCK_FILE = 'tracker.pid'

export class DataDirBusyError extends Error {}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Claims DATA_DIR for this process; returns the release function. Throws DataDirBusyError when taken. */
export function claimDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true })
  const file = join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' })
      let released = false
      const release = () => {
        if (released) return
        released = true
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file)
        } catch {
          // Already gone.
        }
      }
      process.once('exit', release)
      return release
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10)
      if (isAlive(pid)) {
        throw new DataDirBusyError(
          `the embedded database in ${dataDir} is in use by process ${pid} (PGlite allows one process per data directory); stop it first`,
        )
      }
      rmSync(file, { force: true }) // stale: its process is gone
    }
  }
  throw new DataDirBusyError(`could not claim ${dataDir}`)
}
