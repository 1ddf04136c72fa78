import { sql } from 'drizzle-orm'
import t from 'tap'
import { createKey, uniq } from '../factories.js'
import { assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const { app } = ctx
const admin = await createKey(ctx, 'admin')
// A route that lets a malformed value reach the database, as a validation gap would.
app.get('/test/malformed-value', async () => ctx.database.db.execute(sql`select ${'not-a-uuid'}::uuid`))
app.get('/test/bug', async () => ctx.database.db.execute(sql`select * from no_such_table`))
// The error PostgreSQL raises when a write finds the disk full (the disk-full run shows the real thing).
app.get('/test/disk-full', async () =>
  ctx.database.db.execute(
    sql.raw(
      `do $$ begin raise exception 'could not extend file "base/5/16390": No space left on device' using errcode = 'disk_full'; end $$`,
    ),
  ),
)

t.test('an unknown route is 404 not_found, with or without a key', async (t) => {
  for (const [method, url] of [
    ['GET', '/nope'],
    ['GET', '/v1/nope'],
    ['GET', '/v2/orgs'],
    ['DELETE', '/v1/orgs/a/b'],
    ['PUT', '/v1/region'],
  ] as const) {
    assertProblem(t, await app.inject({ method, url }), 404, 'not_found')
    const p = assertProblem(t, await app.inject({ method, url, headers: admin.auth }), 404, 'not_found')
    t.match(p.detail, url.split('?')[0]!)
  }
})

t.test(
  'a path the router refuses is still problem+json: 414 for an over-long parameter, 400 malformed',
  async (t) => {
    const long = await app.inject({ url: `/v1/purchases/${'a'.repeat(500)}`, headers: admin.auth })
    assertProblem(t, long, 414, 'uri_too_long')
    t.type(long.headers['x-request-id'], 'string', 'a request id even here')
    const malformed = await app.inject({ url: '/v1/purchases/%E0%A4%A', headers: admin.auth })
    assertProblem(t, malformed, 400, 'validation_failed')
  },
)

t.test('a body that is not JSON is 415', async (t) => {
  for (const [type, payload] of [
    ['text/plain', JSON.stringify({ name: uniq('org'), kind: 'agency' })],
    ['application/x-www-form-urlencoded', 'name=x&kind=agency'],
    ['text/csv', 'name,kind\nx,agency\n'],
    ['application/xml', '<org/>'],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: { ...admin.auth, 'content-type': type },
      payload,
    })
    assertProblem(t, res, 415, 'unsupported_media_type')
  }
  const none = await app.inject({ method: 'POST', url: '/v1/orgs', headers: admin.auth, payload: 'x' })
  assertProblem(t, none, 415, 'unsupported_media_type')
  const ok = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: { ...admin.auth, 'content-type': 'application/json; charset=utf-8' },
    payload: JSON.stringify({ name: uniq('org'), kind: 'agency' }),
  })
  t.equal(ok.statusCode, 201, 'JSON with a charset parameter is fine')
})

t.test('a JSON body over 1 MiB is 413', async (t) => {
  const payload = JSON.stringify({ name: 'x'.repeat(1024 * 1024), kind: 'agency' })
  const res = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: { ...admin.auth, 'content-type': 'application/json' },
    payload,
  })
  assertProblem(t, res, 413, 'payload_too_large')
  const justUnder = JSON.stringify({ name: 'x'.repeat(1024 * 1024 - 40), kind: 'agency' })
  t.ok(Buffer.byteLength(justUnder) <= 1024 * 1024)
  const under = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: { ...admin.auth, 'content-type': 'application/json' },
    payload: justUnder,
  })
  assertProblem(t, under, 400, 'validation_failed')
  t.match(under.json(), { errors: [{ path: '/name' }] }, 'under the limit the body is parsed and validated')
})

t.test('malformed JSON is 400 validation_failed with errors[]', async (t) => {
  for (const payload of ['{"name": "x", "kind": ', '{bad json}', "{'name': 'x'}", '{"a":1}}', '']) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: { ...admin.auth, 'content-type': 'application/json' },
      payload,
    })
    const p = assertProblem(t, res, 400, 'validation_failed')
    t.ok(p.errors && p.errors.length > 0, `errors[] for ${JSON.stringify(payload)}`)
    t.notMatch(res.body, /SyntaxError|Unexpected token|at JSON\.parse/, 'no parser internals')
  }
})

t.test('JSON with a prototype-polluting key is refused', async (t) => {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: { ...admin.auth, 'content-type': 'application/json' },
    payload: '{"name":"x","kind":"agency","__proto__":{"admin":true}}',
  })
  assertProblem(t, res, 400, 'validation_failed')
})

t.test('every problem has exactly the RFC 9457 members and nothing internal', async (t) => {
  const res = await app.inject({ url: '/v1/orgs/00000000-0000-4000-8000-000000000000', headers: admin.auth })
  const p = assertProblem(t, res, 404, 'not_found')
  t.same(Object.keys(p).sort(), ['code', 'detail', 'status', 'title', 'type'])
  t.match(p.type, /^urn:problem-type:not_found$/)
  const bad = await app.inject({ method: 'POST', url: '/v1/orgs', headers: admin.auth, payload: { kind: 1 } })
  const v = assertProblem(t, bad, 400, 'validation_failed')
  t.same(Object.keys(v).sort(), ['code', 'detail', 'errors', 'status', 'title', 'type'])
  for (const e of v.errors ?? []) t.same(Object.keys(e).sort(), ['message', 'path'])
})

t.test('a database error is 503 without SQL or a stack', async (t) => {
  // A second app on its own database, which is then closed under it.
  const broken = await buildTestApp(t)
  const key = await createKey(broken, 'admin')
  await broken.database.close()
  for (const res of [
    await broken.app.inject({ url: '/v1/orgs', headers: key.auth }),
    await broken.app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: key.auth,
      payload: { name: 'x', kind: 'agency' },
    }),
  ]) {
    const p = assertProblem(t, res, 503, 'service_unavailable')
    t.equal(res.headers['retry-after'], '1')
    t.notMatch(p.detail, /pglite|pool|select|insert/i)
  }
})

t.test('a full disk is 503 with a later Retry-After, never 500', async (t) => {
  const res = await app.inject({ url: '/test/disk-full' })
  const p = assertProblem(t, res, 503, 'service_unavailable')
  t.equal(res.headers['retry-after'], '30', 'an operator has to free space: retry later than for an outage')
  t.match(p.detail, /disk is full/)
  t.notMatch(res.body, /base\/5|extend|raise/, 'no database message')
})

t.test("a malformed value that reaches the database is still the client's 400", async (t) => {
  const res = await app.inject({ url: '/test/malformed-value' })
  const p = assertProblem(t, res, 400, 'validation_failed')
  t.notMatch(res.body, /uuid|syntax/i, 'no database message')
  t.ok(p.errors?.length)
})

t.test('a server bug is 500 internal without SQL or a stack', async (t) => {
  const res = await app.inject({ url: '/test/bug' })
  const p = assertProblem(t, res, 500, 'internal')
  t.equal(p.detail, 'An internal error occurred.')
  t.notMatch(res.body, /no_such_table|relation/)
})
