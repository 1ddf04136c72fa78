import type { FastifyReply } from 'fastify'

/** How often a streamed response is checked for a lost 'drain'. */
const DRAIN_CHECK_MS = 500

/**
 * Guards a long streamed response (an export):
 *
 * - **Stall**: drops it when its connection moves no byte for `stallTimeoutMs` — its client has stopped
 *   reading, or left without closing. This is the socket's idle timeout, which Node restarts on every byte
 *   read and every partial write, so a client that reads slowly keeps its download; one that stops loses it.
 *   Dropping destroys the response, which ends the stream feeding it.
 * - **Lost 'drain'**: Node 24's HTTP response now and then keeps `writableNeedDrain` after every byte has
 *   gone and never emits 'drain', so the stream piped into it waits forever with the file almost sent
 *   (reproduced with plain `Readable.from(…).pipe(res)`, several local clients at once: about 1 response in
 *   120). A response in that state — waiting for 'drain' with nothing left to send — is given its 'drain'.
 */
export function guardStreamedResponse(reply: FastifyReply, stallTimeoutMs: number): void {
  const res = reply.raw
  res.setTimeout(stallTimeoutMs, () => {
    reply.log.warn({ stallTimeoutMs }, 'response stalled (client not reading); connection dropped')
    res.destroy()
  })
  const drainCheck = setInterval(() => {
    if (res.writableNeedDrain && res.writableLength === 0) res.emit('drain')
  }, DRAIN_CHECK_MS)
  drainCheck.unref()
  res.once('close', () => clearInterval(drainCheck))
}
