import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { setImmediate } from 'node:timers/promises'
import { errorCodes } from 'fastify'

/**
 * Reads a request body into one Buffer, as Fastify's `parseAs: 'buffer'` does (413 over `limit`, 400 when
 * the body and Content-Length disagree or the upload breaks off), but without holding a large file twice:
 * Fastify keeps the chunks and concatenates them at the end (two copies of 64 MiB at once); here, once a
 * quarter of the declared Content-Length has arrived, a buffer of that size is allocated and the bytes go
 * straight into it. (Not before: a client announcing 64 MiB and sending nothing gets nothing allocated.)
 */
export function readBody(
  payload: Readable,
  contentLength: string | undefined,
  limit: number,
  done: (err: Error | null, body?: Buffer) => void,
): void {
  const parsed = contentLength === undefined ? Number.NaN : Number(contentLength)
  if (parsed > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
    return
  }
  const declared = Number.isInteger(parsed) && parsed >= 0 ? parsed : undefined
  let target: Buffer | undefined
  let chunks: Buffer[] = []
  let received = 0
  const finish = (err: Error | null, body?: Buffer) => {
    payload.removeListener('data', onData)
    payload.removeListener('end', onEnd)
    payload.removeListener('error', onError)
    done(err, body)
  }
  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    const total = received + bytes.length
    if (total > limit) return finish(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
    if (declared !== undefined && total > declared) {
      return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH())
    }
    if (target) bytes.copy(target, received)
    else {
      chunks.push(bytes)
      if (declared !== undefined && total * 4 >= declared && total < declared) {
        target = Buffer.allocUnsafe(declared)
        let at = 0
        for (const c of chunks) at += c.copy(target, at)
        chunks = []
      }
    }
    received = total
  }
  const onEnd = () => {
    if (declared !== undefined && received !== declared) {
      return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH())
    }
    finish(null, target ?? Buffer.concat(chunks, received))
  }
  const onError = (err: Error & { statusCode?: number }) => {
    if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400
    finish(err)
  }
  payload.on('data', onData)
  payload.on('end', onEnd)
  payload.on('error', onError)
  payload.resume()
}

/** Bytes hashed between two turns of the event loop (about a millisecond's work). */
const HASH_SLICE = 1024 * 1024

/**
 * The hex SHA-256 of a body, a megabyte at a time with a turn of the event loop between: hashing a 64 MiB
 * body in one call would hold the loop for about 100 ms.
 */
export async function bodySha256(bytes: Buffer): Promise<string> {
  const hash = createHash('sha256')
  for (let at = 0; at < bytes.length; at += HASH_SLICE) {
    hash.update(bytes.subarray(at, at + HASH_SLICE))
    if (at + HASH_SLICE < bytes.length) await setImmediate()
  }
  return hash.digest('hex')
}
