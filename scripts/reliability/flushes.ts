/**
 * Flushes seen by `strace`, and whether each acknowledged write had one: the probe behind the durability
 * check (durability.ts). PostgreSQL makes a commit durable by writing its WAL record (pwrite64 on a segment
 * in pg_wal/) and flushing that segment (fdatasync, wal_sync_method's default on Linux) before the commit
 * returns. So an acknowledged write is only durable if, between the request leaving the client and the
 * answer arriving, some process wrote WAL and then flushed that same segment. That is a necessary condition:
 * a write for which it fails was acknowledged before its WAL reached the disk. (It cannot tell which commit
 * a flush covered; the control run with synchronous_commit off shows that background flushes alone do not
 * pass it.)
 */
import { readFileSync } from 'node:fs'

/** The syscalls traced: flushes, and the positioned writes PostgreSQL writes WAL and data files with. */
const TRACED = 'fsync,fdatasync,sync_file_range,msync,pwrite64,pwritev,pwritev2'

/** `strace` in front of node: children followed, wall-clock µs timestamps, durations, file paths. */
export function straceWrapper(outputFile: string): string[] {
  return [
    'strace',
    '-f',
    '--seccomp-bpf',
    '-qq',
    '-e',
    'signal=none',
    '-ttt',
    '-T',
    '-y',
    '-s',
    '0',
    '-e',
    `trace=${TRACED}`,
    '-o',
    outputFile,
  ]
}

export interface Syscall {
  name: string
  path: string
  /** Wall-clock milliseconds (fractional) at entry and at return. */
  start: number
  end: number
  ok: boolean
}

const LINE = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/
const CALL = /^(\w+)\(\d+<([^>]*)>/
const RESUMED = /^<\.\.\. (\w+) resumed>.*= (-?\d+)/
const RESULT = /= (-?\d+)(?: \w+ \([^)]*\))? <(\d+\.\d+)>$/

/** Parses strace's output (with -f, calls that overlap another process's come as unfinished + resumed). */
export function parseStrace(file: string): Syscall[] {
  const calls: Syscall[] = []
  const pending = new Map<string, Syscall>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = LINE.exec(line)
    if (!m) continue
    const [, pid, ts, rest] = m as unknown as [string, string, string, string]
    const at = Number(ts) * 1000
    const resumed = RESUMED.exec(rest)
    if (resumed) {
      const call = pending.get(pid)
      pending.delete(pid)
      if (call) calls.push({ ...call, end: at, ok: Number(resumed[2]) >= 0 })
      continue
    }
    const call = CALL.exec(rest)
    if (!call) continue
    const entry = { name: call[1]!, path: call[2]!, start: at, end: at, ok: false }
    if (rest.endsWith('<unfinished ...>')) {
      pending.set(pid, entry)
      continue
    }
    const result = RESULT.exec(rest)
    if (result) calls.push({ ...entry, end: at + Number(result[2]) * 1000, ok: Number(result[1]) >= 0 })
  }
  return calls.sort((a, b) => a.start - b.start)
}

const isWal = (c: Syscall) => c.ok && c.path.includes('/pg_wal/')
const isFlush = (c: Syscall) => ['fsync', 'fdatasync', 'sync_file_range', 'msync'].includes(c.name)
const isWrite = (c: Syscall) => c.name.startsWith('pwrite')

export interface Flushes {
  walWrites: Syscall[]
  walFlushes: Syscall[]
  /** Flushes of anything else (data files at checkpoints, the control file …). */
  otherFlushes: Syscall[]
}

export function classify(calls: Syscall[]): Flushes {
  const isWalFlush = (c: Syscall) => isWal(c) && c.name === 'fdatasync'
  return {
    walWrites: calls.filter((c) => isWal(c) && isWrite(c)),
    walFlushes: calls.filter(isWalFlush),
    otherFlushes: calls.filter((c) => c.ok && isFlush(c) && !isWalFlush(c)),
  }
}

/** The calls that started and returned within [from, to]. */
export function within(calls: Syscall[], from: number, to: number): Syscall[] {
  return calls.filter((c) => c.start >= from && c.end <= to)
}

/** A request's window: sent and answered, wall-clock milliseconds. */
export interface Window {
  sent: number
  answered: number
}

/** The index of the first call (sorted by start) that starts at or after `at`. */
function firstFrom(calls: Syscall[], at: number): number {
  let lo = 0
  let hi = calls.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (calls[mid]!.start < at) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Whether WAL was written and then that segment flushed, both inside the window. */
export function flushedWithin(f: Flushes, w: Window): boolean {
  for (let i = firstFrom(f.walWrites, w.sent); i < f.walWrites.length; i++) {
    const write = f.walWrites[i]!
    if (write.start > w.answered) return false
    for (let j = firstFrom(f.walFlushes, write.end); j < f.walFlushes.length; j++) {
      const flush = f.walFlushes[j]!
      if (flush.start > w.answered) break
      if (flush.path === write.path && flush.end <= w.answered) return true
    }
  }
  return false
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable with strace's -ttt timestamps. */
export const wallClockMs = (): number => performance.timeOrigin + performance.now()
