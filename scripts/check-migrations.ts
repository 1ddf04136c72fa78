/**
 * `npm run lint` (last step): landed migrations never change.
 *
 * drizzle's migrator applies a migration once and never looks at it again, so editing a migration that a
 * database has already applied changes nothing there: that database silently keeps the old schema or trigger
 * (0005 was edited this way; 0006 fixes it forward). So every SQL file in migrations/ has its sha256 recorded in
 * migrations/checksums.sha256 (`sha256sum` format: `<hex>  <file name>`, so `cd migrations && sha256sum -c
 * checksums.sha256` agrees), and this check fails when
 *   - a recorded file's content differs from its checksum (restore it; change the schema with a new migration),
 *   - a recorded file is missing (landed migrations are never deleted or renamed),
 *   - a migration SQL file has no recorded checksum (record it, below),
 *   - the journal (meta/_journal.json) and the SQL files disagree, or its `when` values do not increase (the
 *     migrator skips a migration whose `when` is not after the last one a database applied).
 *
 * Recording a new migration, once its SQL is final (see docs/migrations.md):
 *   npx tsx scripts/check-migrations.ts --record
 * appends a line for each SQL file that has none; it never rewrites a recorded line. Commit the line with the
 * migration. Until the migration is on main you may still change it: delete its line and record it again.
 */
import { createHash } from 'node:crypto'
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url))
export const CHECKSUMS_FILE = 'checksums.sha256'

const FIX =
  'A migration that has landed never changes: databases that applied it would not see the edit. ' +
  'Restore it (git checkout main -- <file>) and make the change in a new migration (docs/migrations.md).'

export interface MigrationsFolder {
  /** SQL file name → its bytes. */
  sql: Map<string, Buffer>
  /** The checksums file's text, or undefined when it does not exist. */
  checksums: string | undefined
  /** The journal's entries in file order. */
  journal: { tag: string; when: number }[]
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The recorded file name → checksum; malformed lines are reported as problems. */
export function parseChecksums(text: string): { recorded: Map<string, string>; problems: string[] } {
  const recorded = new Map<string, string>()
  const problems: string[] = []
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return
    const m = /^([0-9a-f]{64}) [ *](\S+)$/.exec(line)
    if (!m) problems.push(`${CHECKSUMS_FILE} line ${i + 1} is not "<sha256>  <file name>": ${line}`)
    else if (recorded.has(m[2]!)) problems.push(`${CHECKSUMS_FILE} records ${m[2]} twice`)
    else recorded.set(m[2]!, m[1]!)
  })
  return { recorded, problems }
}

/** Every reason the folder breaks the rule, one line each; empty when it holds. */
export function migrationProblems(folder: MigrationsFolder): string[] {
  if (folder.checksums === undefined) {
    return [`migrations/${CHECKSUMS_FILE} is missing; record every migration with --record`]
  }
  const { recorded, problems } = parseChecksums(folder.checksums)
  for (const [name, expected] of recorded) {
    const bytes = folder.sql.get(name)
    if (!bytes) {
      problems.push(`migrations/${name} is recorded in ${CHECKSUMS_FILE} but missing. ${FIX}`)
      continue
    }
    const actual = sha256(bytes)
    if (actual !== expected) {
      problems.push(
        `migrations/${name} differs from its recorded checksum (recorded ${expected.slice(0, 12)}…, ` +
          `now ${actual.slice(0, 12)}…). ${FIX}`,
      )
    }
  }
  for (const name of folder.sql.keys()) {
    if (!recorded.has(name)) {
      problems.push(
        `migrations/${name} has no recorded checksum: once it is final, run ` +
          '`npx tsx scripts/check-migrations.ts --record` and commit the line it adds',
      )
    }
  }
  const tags = new Set(folder.journal.map((e) => `${e.tag}.sql`))
  for (const e of folder.journal) {
    if (!folder.sql.has(`${e.tag}.sql`))
      problems.push(`meta/_journal.json lists ${e.tag}, but there is no ${e.tag}.sql`)
  }
  for (const name of folder.sql.keys()) {
    if (!tags.has(name))
      problems.push(`migrations/${name} is not in meta/_journal.json, so it would never run`)
  }
  folder.journal.forEach((e, i) => {
    const before = folder.journal[i - 1]
    if (before && !(e.when > before.when)) {
      problems.push(
        `meta/_journal.json: ${e.tag} has "when" ${e.when}, not after ${before.tag}'s ${before.when}; ` +
          'databases that applied the earlier one would skip it',
      )
    }
  })
  return problems
}

export function readMigrationsFolder(dir: string): MigrationsFolder {
  const sql = new Map<string, Buffer>()
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.sql')) sql.set(name, readFileSync(join(dir, name)))
  }
  const checksumsPath = join(dir, CHECKSUMS_FILE)
  const checksums = existsSync(checksumsPath) ? readFileSync(checksumsPath, 'utf8') : undefined
  const journal = (
    JSON.parse(readFileSync(join(dir, 'meta', '_journal.json'), 'utf8')) as {
      entries: { tag: string; when: number }[]
    }
  ).entries
  return { sql, checksums, journal }
}

/** Appends a line for each SQL file without one; recorded lines are never touched. */
function record(dir: string): void {
  const folder = readMigrationsFolder(dir)
  const { recorded } = parseChecksums(folder.checksums ?? '')
  const lines = [...folder.sql]
    .filter(([name]) => !recorded.has(name))
    .map(([name, bytes]) => `${sha256(bytes)}  ${name}\n`)
  const separator = folder.checksums && !folder.checksums.endsWith('\n') ? '\n' : ''
  if (lines.length > 0) appendFileSync(join(dir, CHECKSUMS_FILE), separator + lines.join(''))
  console.log(lines.length > 0 ? `recorded:\n${lines.join('')}` : 'every migration is already recorded')
}

function main(): void {
  if (process.argv.includes('--record')) record(MIGRATIONS_DIR)
  const folder = readMigrationsFolder(MIGRATIONS_DIR)
  const problems = migrationProblems(folder)
  if (problems.length > 0) {
    console.error(`migrations check failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    process.exit(1)
  }
  console.log(`migrations: ${folder.sql.size} files match migrations/${CHECKSUMS_FILE}`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()
