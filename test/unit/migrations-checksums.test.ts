import t from 'tap'
import {
  MIGRATIONS_DIR,
  type MigrationsFolder,
  migrationProblems,
  readMigrationsFolder,
  sha256,
} from '../../scripts/check-migrations.js'

/** A small folder: two recorded migrations in the journal. */
function folder(): MigrationsFolder {
  const a = Buffer.from('CREATE TABLE a (id int);\n')
  const b = Buffer.from('CREATE TABLE b (id int);\n')
  return {
    sql: new Map([
      ['0000_a.sql', a],
      ['0001_b.sql', b],
    ]),
    checksums: `${sha256(a)}  0000_a.sql\n${sha256(b)}  0001_b.sql\n`,
    journal: [
      { tag: '0000_a', when: 1 },
      { tag: '0001_b', when: 2 },
    ],
  }
}

t.test('the committed migrations match their recorded checksums and the journal', async (t) => {
  t.same(migrationProblems(readMigrationsFolder(MIGRATIONS_DIR)), [])
})

t.test('a consistent folder has no problems', async (t) => {
  t.same(migrationProblems(folder()), [])
})

t.test('an edited migration is refused, with the fix', async (t) => {
  const f = folder()
  f.sql.set('0001_b.sql', Buffer.from('CREATE TABLE b (id bigint);\n'))
  const problems = migrationProblems(f)
  t.equal(problems.length, 1)
  t.match(problems[0], /^migrations\/0001_b\.sql differs from its recorded checksum .*new migration/)
})

t.test('a line-ending change counts as an edit', async (t) => {
  const f = folder()
  f.sql.set('0000_a.sql', Buffer.from('CREATE TABLE a (id int);\r\n'))
  t.match(migrationProblems(f), [/0000_a\.sql differs/])
})

t.test('a recorded migration that is gone is refused', async (t) => {
  const f = folder()
  f.sql.delete('0001_b.sql')
  f.journal.pop()
  t.match(migrationProblems(f), [/0001_b\.sql is recorded .* but missing/])
})

t.test('a migration without a recorded checksum is refused', async (t) => {
  const f = folder()
  f.sql.set('0002_c.sql', Buffer.from('SELECT 1;\n'))
  f.journal.push({ tag: '0002_c', when: 3 })
  t.match(migrationProblems(f), [/0002_c\.sql has no recorded checksum.*--record/])
})

t.test('journal and files must agree, and "when" must increase', async (t) => {
  const f = folder()
  f.journal[1]!.when = 1
  f.journal.push({ tag: '0002_c', when: 5 })
  t.match(migrationProblems(f), [
    /lists 0002_c, but there is no 0002_c\.sql/,
    /0001_b has "when" 1, not after/,
  ])
  const g = folder()
  g.journal.pop()
  t.match(migrationProblems(g), [/0001_b\.sql is not in meta\/_journal\.json/])
})

t.test('a missing or malformed checksums file is refused', async (t) => {
  t.match(migrationProblems({ ...folder(), checksums: undefined }), [/checksums\.sha256 is missing/])
  const f = folder()
  f.checksums = `${f.checksums}not a checksum line\n`
  t.match(migrationProblems(f), [/line 3 is not/])
})
