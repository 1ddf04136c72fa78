/** bench-results/: where the bench and the reliability run leave their raw figures. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './processes.js'

export const RESULTS_DIR = join(ROOT, 'bench-results')

/** A timestamp fit for a file name. */
export function fileStamp(at = new Date()): string {
  return at.toISOString().replace(/[:.]/g, '-')
}

/** Writes `data` as JSON to bench-results/`name`; answers the file's path. */
export function writeResultsFile(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = join(RESULTS_DIR, name)
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`)
  return file
}
