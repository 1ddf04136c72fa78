/**
 * guardStreamedResponse on a stand-in response: the stall timeout destroys it, and a response stuck waiting
 * for a 'drain' with nothing left to send (Node 24 loses that event now and then) gets one. The real thing,
 * over HTTP: test/integration/work-limit.test.ts (stall) and purchases-export-unread.test.ts.
 */
import { EventEmitter, once } from 'node:events'
import type { FastifyReply } from 'fastify'
import t from 'tap'
import { guardStreamedResponse } from '../../src/http/streamed-response.js'

class StandInResponse extends EventEmitter {
  writableNeedDrain = false
  writableLength = 0
  destroyed = false
  onTimeout: (() => void) | undefined
  timeoutMs: number | undefined
  setTimeout(ms: number, callback: () => void) {
    this.timeoutMs = ms
    this.onTimeout = callback
    return this
  }
  destroy() {
    this.destroyed = true
    this.emit('close')
  }
}

const guarded = (res: StandInResponse) =>
  guardStreamedResponse({ raw: res, log: { warn() {} } } as unknown as FastifyReply, 60_000)

t.test('the stall timeout is the socket idle timeout, and drops the response', async (t) => {
  const res = new StandInResponse()
  guarded(res)
  t.equal(res.timeoutMs, 60_000)
  res.onTimeout!()
  t.ok(res.destroyed)
})

t.test('a response waiting for a drain with nothing left to send gets it', async (t) => {
  const res = new StandInResponse()
  guarded(res)
  t.teardown(() => res.destroy())
  res.writableNeedDrain = true
  res.writableLength = 0
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(r, 5_000, false)
  })
  const drained = once(res, 'drain').then(() => true)
  t.ok(await Promise.race([drained, late]), "'drain' is emitted")
  clearTimeout(timer)
})

t.test('no drain while bytes are still queued, and none once closed', async (t) => {
  const res = new StandInResponse()
  guarded(res)
  let drains = 0
  res.on('drain', () => drains++)
  res.writableNeedDrain = true
  res.writableLength = 1000
  await new Promise((r) => setTimeout(r, 1_200))
  res.destroy()
  res.writableLength = 0
  await new Promise((r) => setTimeout(r, 1_200))
  t.equal(drains, 0)
})
