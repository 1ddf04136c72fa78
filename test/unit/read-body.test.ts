import { createHash, randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { bodySha256, readBody } from '../../src/http/read-body.js'

/** Feeds `chunks` into readBody through a stream and resolves with what `done` got. */
function read(chunks: (Buffer | string)[], contentLength: string | undefined, limit: number, end = true) {
  const payload = new PassThrough()
  const result = new Promise<{ err: (Error & { code?: string; statusCode?: number }) | null; body?: Buffer }>(
    (resolve) => readBody(payload, contentLength, limit, (err, body) => resolve({ err, body })),
  )
  for (const c of chunks) payload.write(c)
  if (end) payload.end()
  return { payload, result }
}

t.test('a body with a matching Content-Length arrives whole, in order', async (t) => {
  const parts = [Buffer.from('ab'), Buffer.from('cdef'), Buffer.from('ghij')]
  const { result } = read(parts, '10', 100)
  const { err, body } = await result
  t.equal(err, null)
  t.equal(body?.toString(), 'abcdefghij')
})

t.test('a body without Content-Length (chunked) is concatenated', async (t) => {
  const { result } = read(['x,y\r\n', '1,2\r\n'], undefined, 100)
  const { err, body } = await result
  t.equal(err, null)
  t.equal(body?.toString(), 'x,y\r\n1,2\r\n')
})

t.test('a declared length over the limit is refused before any byte is read', async (t) => {
  const { result } = read([], '101', 100, false)
  const { err } = await result
  t.equal(err?.code, 'FST_ERR_CTP_BODY_TOO_LARGE')
  t.equal(err?.statusCode, 413)
})

t.test('bytes past the limit are refused when no length was declared', async (t) => {
  const { result } = read([Buffer.alloc(60), Buffer.alloc(60)], undefined, 100)
  const { err } = await result
  t.equal(err?.code, 'FST_ERR_CTP_BODY_TOO_LARGE')
})

t.test('more bytes than declared, or fewer, is a 400', async (t) => {
  const more = await read([Buffer.alloc(8)], '5', 100).result
  t.equal(more.err?.code, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
  t.equal(more.err?.statusCode, 400)
  const fewer = await read([Buffer.alloc(3)], '5', 100).result
  t.equal(fewer.err?.code, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
})

t.test('an upload that breaks off is a 400 (never a 5xx)', async (t) => {
  const { payload, result } = read([Buffer.alloc(4)], '10', 100, false)
  payload.destroy(new Error('aborted'))
  const { err } = await result
  t.equal(err?.message, 'aborted')
  t.equal(err?.statusCode, 400)
})

t.test('a large declared body lands in one buffer of exactly that size', async (t) => {
  const parts = Array.from({ length: 8 }, (_, i) => Buffer.alloc(1024, i))
  const { result } = read(parts, String(8 * 1024), 1 << 20)
  const { err, body } = await result
  t.equal(err, null)
  t.equal(body?.length, 8 * 1024)
  t.same(
    Array.from({ length: 8 }, (_, i) => body?.[i * 1024]),
    [0, 1, 2, 3, 4, 5, 6, 7],
    'every chunk at its offset, whether it came before or after the buffer was allocated',
  )
})

t.test('bodySha256 hashes a megabyte at a time, to the same digest', async (t) => {
  for (const size of [0, 1, 1024 * 1024, 1024 * 1024 + 1, 3.5 * 1024 * 1024]) {
    const bytes = randomBytes(size)
    t.equal(await bodySha256(bytes), createHash('sha256').update(bytes).digest('hex'), `${size} bytes`)
  }
})
