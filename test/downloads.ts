/**
 * Real HTTP against a listening test app, for what `inject` cannot show: clients that stop reading, sockets
 * that are dropped, responses held by backpressure.
 */
import { type IncomingHttpHeaders, request, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

/**
 * A CSV of `rows` valid records, each with a 2 000-character note (about 6 KB as UTF-8), dated over 2023 and
 * 2024: a few thousand of them export to far more than socket buffers hold, so an unread download blocks
 * the server mid-stream.
 */
export function bulkyCsv(rows: number): string {
  const note = '备'.repeat(2000)
  const lines = ['channel,amount,occurred_on,region_code,supplier,note']
  for (let i = 0; i < rows; i++) {
    lines.push(
      `wholesale,${1 + (i % 97)}.25,${2023 + (i % 2)}-0${1 + (i % 9)}-1${i % 10},530502,s${i},${note}`,
    )
  }
  return `${lines.join('\n')}\n`
}

/** The app's port, listening on an ephemeral port of 127.0.0.1 from the first call on. */
export async function listening(app: FastifyInstance): Promise<number> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as AddressInfo).port
}

export interface HeldResponse {
  status: number
  headers: IncomingHttpHeaders
  /** The body of an answer other than 200 (read whole); a 200's body is never read. */
  body?: string
  /** Drops the connection, as a client that gives up does. */
  destroy(): void
}

/**
 * GET `path` on a connection of its own. A 200 is left unread — nothing consumes its body — so once the
 * socket buffers are full the server is held by backpressure, as by a client that stopped reading. Any
 * other answer is read whole (a problem+json).
 */
export function openUnread(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<HeldResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false })
    let answered = false
    // After the answer, errors are the connection being dropped (by the test or the server): expected.
    req.on('error', (err) => {
      if (!answered) reject(err)
    })
    req.once('response', (res) => {
      answered = true
      const held = { status: res.statusCode!, headers: res.headers, destroy: () => req.destroy() }
      if (res.statusCode === 200) return resolve(held)
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ ...held, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.end()
  })
}

/** Every response the app's server sends on a path starting with `prefix`, as it is sent. */
export function watchResponses(app: FastifyInstance, prefix: string): ServerResponse[] {
  const seen: ServerResponse[] = []
  app.server.on('request', (req, res: ServerResponse) => {
    if (req.url?.startsWith(prefix)) seen.push(res)
  })
  return seen
}

/** Polls `condition` every 20 ms; true once it holds, false if it still does not after `withinMs`. */
export async function eventually(condition: () => boolean, withinMs = 20_000): Promise<boolean> {
  for (const end = Date.now() + withinMs; !condition(); ) {
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 20))
  }
  return true
}
