import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { claimDataDir, DataDirBusyError, LOCK_FILE } from '../../src/data-dir-lock.js'

const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracker-lock-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('claiming records this pid; releasing removes it', async (t) => {
  const dir = join(tmp(), 'data')
  const release = claimDataDir(dir)
  t.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid))
  release()
  t.notOk(existsSync(join(dir, LOCK_FILE)))
  release()
  t.pass('releasing twice is harmless')
})

t.test('a directory held by a live process is refused with one clear line', async (t) => {
  const dir = tmp()
  writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`)
  let error: unknown
  try {
    claimDataDir(dir)
  } catch (err) {
    error = err
  }
  t.ok(error instanceof DataDirBusyError, 'refused')
  t.match((error as Error).message, new RegExp(`in use by process ${process.ppid}.*stop it first`))
  t.notMatch((error as Error).message, /\n/)
  t.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.ppid), 'the lock is left alone')
})

t.test('a stale lock (its process is gone) is taken over', async (t) => {
  const dir = tmp()
  writeFileSync(join(dir, LOCK_FILE), '2147483646\n')
  const release = claimDataDir(dir)
  t.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid))
  release()
  writeFileSync(join(dir, LOCK_FILE), 'garbage')
  claimDataDir(dir)()
  t.pass('an unreadable lock is stale too')
})
