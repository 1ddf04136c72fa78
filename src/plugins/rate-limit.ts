import { isIPv6 } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'

const WINDOW_MS = 60_000
/** Past this many live windows the oldest is dropped, so memory stays bounded whatever the keys. */
const MAX_KEYS = 50_000

interface Window {
  key: string
  count: number
  resetAt: number
}

export interface WindowCounter {
  /** Counts one request for `key`; the whole seconds to wait when it is over the limit, else undefined. */
  hit(key: string): number | undefined
  /** The whole seconds to wait when `key` has used its whole budget, else undefined; counts nothing. */
  exhausted(key: string): number | undefined
  readonly size: number
}

/**
 * Fixed one-minute windows, one per key, opened by the key's first request. Every call is synchronous, so
 * requests that arrive together are each counted once and each see their own count (@fastify/rate-limit
 * 11.2's LocalStore hands every caller the same mutable record, so a burst whose hooks resume in one tick
 * all saw the last count). Memory is bounded: windows are also queued in the order they end (`now` is
 * monotonic), expired ones leave from the front of the queue on every call, and past `maxKeys` the oldest
 * live one is dropped. (Not by iterating the Map: after many deletions V8 walks their holes, which made
 * each call O(keys) under a flood of distinct keys.)
 */
export function createWindowCounter(
  limit: number,
  opts: { windowMs?: number; maxKeys?: number; now?: () => number } = {},
): WindowCounter {
  const { windowMs = WINDOW_MS, maxKeys = MAX_KEYS, now = () => performance.now() } = opts
  const windows = new Map<string, Window>()
  let queue: Window[] = []
  let head = 0
  const waitOf = (w: Window, at: number) => Math.max(1, Math.ceil((w.resetAt - at) / 1000))
  const dropOldest = () => {
    const w = queue[head++]!
    if (windows.get(w.key) === w) windows.delete(w.key)
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head)
      head = 0
    }
  }
  const sweep = (at: number) => {
    while (head < queue.length && queue[head]!.resetAt <= at) dropOldest()
  }
  const open = (key: string, at: number) => {
    if (windows.size >= maxKeys) dropOldest()
    const w = { key, count: 0, resetAt: at + windowMs }
    windows.set(key, w)
    queue.push(w)
    return w
  }
  return {
    hit(key) {
      const at = now()
      sweep(at)
      const w = windows.get(key) ?? open(key, at)
      w.count += 1
      return w.count > limit ? waitOf(w, at) : undefined
    },
    exhausted(key) {
      const at = now()
      sweep(at)
      const w = windows.get(key)
      return w && w.count >= limit ? waitOf(w, at) : undefined
    },
    get size() {
      return windows.size
    },
  }
}

/**
 * The client an address budget counts: the address itself, or for IPv6 its /64 (one host usually holds a
 * whole /64, so counting single addresses would give it 2^64 budgets). An IPv4-mapped address is its IPv4.
 */
export function clientOf(ip: string): string {
  if (!isIPv6(ip)) return ip
  const address = ip.split('%')[0]!.toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address)
  if (mapped) return mapped[1]!
  const [head = '', tail] = address.split('::')
  const groups = (s: string) =>
    s === '' ? [] : s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]))
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return `${all
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`
}

const rateLimited = (detail: string, wait: number) =>
  new AppError('rate_limited', 429, `${detail} Retry after ${wait} s.`, undefined, { retry_after: wait })

/**
 * Per-API-key request limit, an onRequest hook of the /v1 scope installed after authentication (so the key
 * is known, and a limited client's body is never read). Counters live in each instance's memory: with N
 * instances the effective limit is up to N × the setting, which is acceptable for abuse protection.
 */
export function installRateLimit(scope: FastifyInstance, perMinute: number) {
  if (perMinute === 0) return
  const counter = createWindowCounter(perMinute)
  scope.addHook('onRequest', async (request) => {
    const wait = counter.hit(request.principal.keyId)
    if (wait !== undefined) {
      throw rateLimited(`Rate limit of ${perMinute} requests per minute for this API key exceeded.`, wait)
    }
  })
}

/**
 * Per-client-address budget of failed authentications (missing, unknown or revoked key), checked by an
 * onRequest hook installed BEFORE authentication: once an address has failed `perMinute` times in its
 * window, its requests get 429 without the key being looked up — a valid key from that address too, since
 * telling it apart would cost the lookup. Returns what authentication calls on each failure. Requests
 * already past the check when the budget runs out still complete their (batched) lookups.
 */
export function installAuthFailureLimit(
  scope: FastifyInstance,
  perMinute: number,
): (request: FastifyRequest) => void {
  if (perMinute === 0) return () => {}
  const counter = createWindowCounter(perMinute)
  scope.addHook('onRequest', async (request) => {
    const wait = counter.exhausted(clientOf(request.ip))
    if (wait !== undefined) {
      throw rateLimited(`Too many failed authentications from this address (${perMinute} per minute).`, wait)
    }
  })
  return (request) => {
    counter.hit(clientOf(request.ip))
  }
}
