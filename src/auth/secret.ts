import { createHash } from 'node:crypto'

/** Secrets are random 256-bit strings, so one SHA-256 is the right hash (no slow KDF needed). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex')
}
