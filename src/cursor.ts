import { createHash } from 'node:crypto'
import { AppError } from './errors.js'

/**
 * Keyset cursors: the sort key of the last row returned, plus a digest of the filters it was made under,
 * so a cursor replayed with other filters is refused instead of silently skipping or repeating rows.
 */
export function encodeCursor(position: readonly (string | number)[], filters: unknown): string {
  return Buffer.from(JSON.stringify({ p: position, f: filterDigest(filters) }), 'utf8').toString('base64url')
}

/**
 * The digest is not a signature: a client can forge a cursor for the right filters, so `valid` checks the
 * position's values before they reach SQL (a forged cursor is a 400, never a database error).
 */
export function decodeCursor(
  cursor: string,
  filters: unknown,
  arity: number,
  valid: (position: (string | number)[]) => boolean = () => true,
): (string | number)[] {
  let parsed: { p?: unknown; f?: unknown }
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalid('The cursor is malformed.')
  }
  if (
    !Array.isArray(parsed.p) ||
    parsed.p.length !== arity ||
    !parsed.p.every((v) => typeof v === 'string' || typeof v === 'number')
  ) {
    throw invalid('The cursor is malformed.')
  }
  if (parsed.f !== filterDigest(filters)) throw invalid('The cursor was made for other filters.')
  const position = parsed.p as (string | number)[]
  if (!valid(position)) throw invalid('The cursor is malformed.')
  return position
}

function filterDigest(filters: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(filters ?? null))
    .digest('base64url')
    .slice(0, 16)
}

const invalid = (message: string) =>
  new AppError('validation_failed', 400, message, [{ path: '/querystring/cursor', message }])
