/**
 * Every error is problem+json, at the edges of HTTP: 405 for a known path with another method, what Node's
 * parser refuses before Fastify (431, malformed request lines and headers, 408), and bodies in a charset
 * the route does not read.
 */

import type { AddressInfo } from 'node:net'
import { connect, type Socket } from 'node:net'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { sendClientError } from '../../src/plugins/error-handler.js'
import { createKey, createOrgWithReporter, fixture, uniq } from '../factories.js'
import { assertProblem, buildTestApp, countRows } from '../helper.js'

const ctx = await buildTestApp(t)
const { app } = ctx
const admin = await createKey(ctx, 'admin')

t.test(
  'a known path with a method it does not serve is 405 with Allow; an unknown path stays 404',
  async (t) => {
    for (const [method, url, allow] of [
      ['DELETE', '/v1/purchases', 'GET, HEAD, POST'],
      ['PUT', '/v1/totals', 'GET, HEAD'],
      ['PATCH', '/v1/purchases/00000000-0000-4000-8000-000000000000', 'GET, HEAD'],
      ['DELETE', '/v1/purchases/batch', 'GET, HEAD, POST'],
      ['DELETE', '/v1/targets/2024?x=1', 'GET, HEAD, PUT'],
      ['POST', '/healthz', 'GET, HEAD'],
    ] as const) {
      for (const headers of [{}, admin.auth]) {
        const res = await app.inject({ method, url, headers })
        const p = assertProblem(t, res, 405, 'method_not_allowed')
        t.equal(res.headers.allow, allow, `${method} ${url}: Allow`)
        t.match(p.detail, `${method} is not allowed on ${url.split('?')[0]}`)
      }
    }
    for (const [method, url] of [
      ['GET', '/v1/nope'],
      ['DELETE', '/v1/purchases/a/b'],
      ['GET', '/v1/purchases/import/x'],
    ] as const) {
      const res = await app.inject({ method, url, headers: admin.auth })
      assertProblem(t, res, 404, 'not_found')
      t.notOk(res.headers.allow, 'no Allow on a 404')
    }
  },
)

/** Sends raw bytes on a fresh connection; resolves with everything the server wrote before closing. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      answer += chunk
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
    socket.end(bytes)
  })
}

/** A raw HTTP/1.1 answer as inject's response, so assertProblem can judge it. */
function parseAnswer(raw: string): LightMyRequestResponse {
  const [head = '', body = ''] = raw.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  )
  return {
    statusCode: Number(statusLine.split(' ')[1]),
    headers,
    body,
    json: () => JSON.parse(body),
  } as unknown as LightMyRequestResponse
}

t.test('what Node refuses before Fastify is problem+json too (over a real socket)', async (t) => {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const huge = await rawRequest(
    port,
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  )
  const p = assertProblem(t, parseAnswer(huge), 431, 'headers_too_large')
  t.match(p.detail, /16 KiB/)
  t.equal(parseAnswer(huge).headers.connection, 'close')
  for (const bytes of [
    'GARBAGE\r\n\r\n',
    'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
    'POST /v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
  ]) {
    const answer = parseAnswer(await rawRequest(port, bytes))
    assertProblem(t, answer, 400, 'validation_failed', ['/'])
  }
  const fine = parseAnswer(
    await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
  )
  t.equal(fine.statusCode, 200, 'a well-formed request still works')
})

t.test('a request timeout is a 408 problem', async (t) => {
  let written = ''
  const socket = { destroyed: false, writable: true, write: (s: string) => (written += s), destroy() {} }
  const err = Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' })
  sendClientError.call(app, err, socket as unknown as Socket)
  assertProblem(t, parseAnswer(written), 408, 'request_timeout')
})

const postOrg = (contentType: string, payload: string | Buffer) =>
  app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: { ...admin.auth, 'content-type': contentType },
    payload,
  })

t.test(
  'a JSON body in a charset other than UTF-8 is 415; invalid UTF-8 is 400; nothing is stored',
  async (t) => {
    const before = await countRows(ctx, undefined, 'orgs')
    const body = () => JSON.stringify({ name: uniq('org'), kind: 'agency' })
    for (const type of [
      'application/json; charset=latin1',
      'application/json; charset=ISO-8859-1',
      'application/json; charset=utf-16',
      'application/json; charset="gbk"',
      'application/json; charset=',
    ]) {
      const p = assertProblem(t, await postOrg(type, body()), 415, 'unsupported_media_type')
      t.match(p.detail, /JSON bodies are UTF-8/, type)
    }
    const invalid = Buffer.concat([
      Buffer.from('{"name":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('","kind":"agency"}'),
    ])
    const p = assertProblem(t, await postOrg('application/json', invalid), 400, 'validation_failed', ['/'])
    t.match(p.errors?.[0]?.message, /not valid UTF-8/)
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body(), 'utf16le')])
    assertProblem(t, await postOrg('application/json', utf16), 400, 'validation_failed')
    t.equal(await countRows(ctx, undefined, 'orgs'), before, 'nothing stored')

    for (const type of [
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/json; charset=utf8',
    ]) {
      t.equal((await postOrg(type, body())).statusCode, 201, type)
    }
    const bom = await postOrg(
      'application/json',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body())]),
    )
    t.equal(bom.statusCode, 201, 'a leading BOM is ignored')
    const name = uniq('café-')
    const accented = await postOrg('application/json', JSON.stringify({ name, kind: 'agency' }))
    t.equal(accented.json().name, name, 'valid UTF-8 arrives as sent')
  },
)

t.test('a CSV import whose charset names another encoding than the one read is 415', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const before = await countRows(ctx)
  const postCsv = (contentType: string, bytes: Buffer, query = '') =>
    app.inject({
      method: 'POST',
      url: `/v1/purchases/import${query}`,
      headers: { ...org.auth, 'content-type': contentType },
      payload: bytes,
    })
  const gbk = fixture('purchases-excel-gbk.csv')
  const utf8 = fixture('purchases-excel-utf8-bom.csv')
  for (const [type, bytes, query, detail] of [
    ['text/csv; charset=latin1', utf8, '', /charset=latin1 is not supported/],
    ['text/csv; charset=utf-16', utf8, '?encoding=gbk', /charset=utf-16 is not supported/],
    ['text/csv; charset=gbk', gbk, '', /send \?encoding=gbk/],
    ['text/csv; charset=utf-8', utf8, '?encoding=gbk', /send \?encoding=utf-8/],
  ] as const) {
    const p = assertProblem(t, await postCsv(type, bytes, query), 415, 'unsupported_media_type')
    t.match(p.detail, detail, `${type} ${query}`)
  }
  assertProblem(t, await postCsv('text/csv', utf8, '?encoding=xyz'), 400, 'validation_failed', [
    '/querystring/encoding',
  ])
  t.equal(await countRows(ctx), before, 'nothing stored')
  const dry = '?dry_run=true'
  t.equal(
    (await postCsv('text/csv; charset=GB2312', gbk, `${dry}&encoding=gbk`)).statusCode,
    200,
    'GB2312 is GBK',
  )
  t.equal((await postCsv('text/csv; charset="utf-8"', utf8, dry)).statusCode, 200, 'utf-8 as default')
})
