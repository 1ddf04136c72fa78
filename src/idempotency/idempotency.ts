/**
 * Idempotency keys as infrastructure: the key, its fingerprint and the stored response live in the same
 * transaction as the effect. Used by services (`runIdempotent`); the HTTP side (reading the header, sending
 * a replay) is in `src/http/idempotent-request.ts`.
 */
import { createHash } from 'node:crypto'
import { type Db, inTransaction, type Tx } from '../db/client.js'
import { AppError } from '../errors.js'
import { idempotencyRepository as repo } from './idempotency.repository.js'

/** Keys are honoured for at least this long; older ones are cleaned up in the background. */
export const IDEMPOTENCY_RETENTION_DAYS = 7

export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/

export const IDEMPOTENCY_DESCRIPTION =
  'Optional. 1–255 printable ASCII characters, scoped to the API key. The key is stored in the same ' +
  'transaction as the effect, with a fingerprint of method, path and body (JSON compared as parsed, so ' +
  'key order and white space do not matter). Same key and same request → the first 2xx response is ' +
  'replayed with `Idempotent-Replayed: true` and nothing happens again; same key and a different request → ' +
  `422 \`idempotency_key_reused\`; a concurrent duplicate waits for the first and gets its replay. Only 2xx ` +
  'responses bind a key: after a 4xx/5xx the same key may be retried with a corrected request. Keys are kept ' +
  `at least ${IDEMPOTENCY_RETENTION_DAYS} days.`

export const idempotencyKeyReused = () =>
  new AppError(
    'idempotency_key_reused',
    422,
    'This Idempotency-Key was already used for a different request.',
  )

export interface EffectResult<T> {
  status: number
  body: T
}

export interface IdempotentOutcome<T> extends EffectResult<T> {
  replayed: boolean
}

/** JSON with object keys sorted, so `{"a":1,"b":2}` and `{ "b": 2, "a": 1 }` fingerprint alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export function fingerprint(method: string, url: string, bodyDigest: string): string {
  return createHash('sha256').update(`${method} ${url}\n${bodyDigest}`).digest('hex')
}

export interface IdempotentRequest {
  apiKeyId: string
  key: string | undefined
  /** From `fingerprint()`: method, path with query, and the body's digest. */
  fingerprint: string
}

/**
 * Runs `effect` in one transaction together with the idempotency record. The key row is inserted first:
 * a concurrent request with the same key blocks on the primary key until the first commits (then it
 * replays) or rolls back (then it proceeds). A failed effect rolls the key back with it.
 */
export async function runIdempotent<T>(
  db: Db,
  req: IdempotentRequest,
  effect: (tx: Tx) => Promise<EffectResult<T>>,
): Promise<IdempotentOutcome<T>> {
  const { key } = req
  if (key === undefined) {
    const result = await inTransaction(db, effect)
    return { ...result, replayed: false }
  }
  return inTransaction(db, async (tx) => {
    const stored = await replayOf<T>(tx, req, key)
    if (stored) return stored
    const result = await effect(tx)
    await repo.saveResponse(tx, req.apiKeyId, key, result.status, result.body)
    return { ...result, replayed: false }
  })
}

/**
 * Claims the key for this request (undefined: go ahead with the effect), or returns the stored response
 * of the same request (a replay). Another request's key, or one still in progress, is an error.
 */
async function replayOf<T>(
  tx: Tx,
  req: IdempotentRequest,
  key: string,
): Promise<IdempotentOutcome<T> | undefined> {
  if (await repo.claim(tx, { apiKeyId: req.apiKeyId, key, fingerprint: req.fingerprint })) return undefined
  const stored = await repo.find(tx, req.apiKeyId, key)
  if (!stored || stored.responseStatus === null) {
    throw new AppError('idempotency_key_in_use', 409, 'A request with this Idempotency-Key is in progress.')
  }
  if (stored.fingerprint !== req.fingerprint) throw idempotencyKeyReused()
  return { status: stored.responseStatus, body: stored.responseBody as T, replayed: true }
}

/**
 * Deletes keys past retention, a bounded batch at a time; SKIP LOCKED so it never waits on, or blocks,
 * a write. Returns how many rows went.
 */
export function purgeExpiredIdempotencyKeys(db: Db, batch = 5_000): Promise<number> {
  return repo.deleteOlderThan(db, IDEMPOTENCY_RETENTION_DAYS + 1, batch)
}
