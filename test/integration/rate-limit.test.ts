import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createKey } from '../factories.js'
import { assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '3' } })
const { app } = ctx

t.test('past RATE_LIMIT_PER_MINUTE a key gets 429 problem+json with Retry-After', async (t) => {
  const key = await createKey(ctx, 'admin')
  for (let i = 1; i <= 3; i++) {
    t.equal((await app.inject({ url: '/v1/regions', headers: key.auth })).statusCode, 200, `request ${i}`)
  }
  const res = await app.inject({ url: '/v1/regions', headers: key.auth })
  const p = assertProblem(t, res, 429, 'rate_limited')
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(
    Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60,
    `Retry-After: ${res.headers['retry-after']}`,
  )
  t.notOk('retry_after' in p, 'the header, not a body member')
  const write = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: key.auth,
    payload: { name: 'x', kind: 'agency' },
  })
  assertProblem(t, write, 429, 'rate_limited')
})

t.test('the limit is per API key', async (t) => {
  const a = await createKey(ctx, 'finance')
  const b = await createKey(ctx, 'finance')
  for (let i = 0; i < 4; i++) await app.inject({ url: '/v1/regions', headers: a.auth })
  assertProblem(t, await app.inject({ url: '/v1/regions', headers: a.auth }), 429, 'rate_limited')
  t.equal(
    (await app.inject({ url: '/v1/regions', headers: b.auth })).statusCode,
    200,
    'another key is unaffected',
  )
})

t.test('open routes are not limited', async (t) => {
  for (let i = 0; i < 6; i++) t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})

t.test('RATE_LIMIT_PER_MINUTE=0 turns it off', async (t) => {
  const off = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '0' } })
  const key = await createKey(off, 'admin')
  for (let i = 0; i < 10; i++)
    t.equal((await off.app.inject({ url: '/v1/regions', headers: key.auth })).statusCode, 200)
})

function statusCounts(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1
  return counts
}

t.test('a concurrent burst is counted exactly: 40 at once under 30 → 30 served, 10 refused', async (t) => {
  const burst = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '30' } })
  const key = await createKey(burst, 'finance')
  const answers = await Promise.all(
    Array.from({ length: 40 }, () => burst.app.inject({ url: '/v1/regions', headers: key.auth })),
  )
  t.same(statusCounts(answers.map((r) => r.statusCode)), { 200: 30, 429: 10 })
  for (const res of answers.filter((r) => r.statusCode === 429)) {
    assertProblem(t, res, 429, 'rate_limited')
    t.ok(Number(res.headers['retry-after']) > 0, `Retry-After: ${res.headers['retry-after']}`)
  }

  // The same over real sockets, with another key.
  const other = await createKey(burst, 'finance')
  await burst.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = burst.app.server.address() as AddressInfo
  const overHttp = await Promise.all(
    Array.from({ length: 40 }, () => fetch(`http://127.0.0.1:${port}/v1/regions`, { headers: other.auth })),
  )
  t.same(statusCounts(overHttp.map((r) => r.status)), { 200: 30, 429: 10 }, 'over HTTP')
  await Promise.all(overHttp.map((r) => r.arrayBuffer()))
})

t.test('failed authentications are limited per client address, before the key lookup', async (t) => {
  const guarded = await buildTestApp(t, { env: { AUTH_FAILURES_PER_MINUTE: '5' } })
  const valid = await createKey(guarded, 'admin')
  const from = (remoteAddress: string, headers: Record<string, string>) =>
    guarded.app.inject({ url: '/v1/regions', headers, remoteAddress })
  const bad = { authorization: 'Bearer not-a-key-0123456789' }

  for (let i = 1; i <= 5; i++) {
    assertProblem(t, await from('203.0.113.7', i % 2 ? bad : {}), 401, 'unauthorized')
  }
  const refused = await from('203.0.113.7', bad)
  assertProblem(t, refused, 429, 'rate_limited')
  t.ok(Number(refused.headers['retry-after']) > 0, 'Retry-After')
  assertProblem(t, await from('203.0.113.7', valid.auth), 429, 'rate_limited')
  t.equal((await from('203.0.113.8', valid.auth)).statusCode, 200, 'a valid key from another address works')
  t.equal((await from('203.0.113.8', bad)).statusCode, 401, 'and another address has its own budget')

  // An IPv6 client's whole /64 is one client.
  for (let i = 1; i <= 5; i++) await from(`2001:db8:1:2::${i}`, bad)
  assertProblem(t, await from('2001:db8:1:2:ffff::9', bad), 429, 'rate_limited')
  t.equal((await from('2001:db8:1:3::1', bad)).statusCode, 401, 'another /64 has its own budget')

  // Past the budget the database is not asked: with it gone, the refused address still gets 429, where
  // another address's lookup fails with 503.
  await guarded.database.close()
  assertProblem(t, await from('203.0.113.7', bad), 429, 'rate_limited')
  assertProblem(t, await from('203.0.113.9', bad), 503, 'service_unavailable')
})

t.test('X-Forwarded-For counts only from the proxies TRUST_PROXY names', async (t) => {
  const bad = (forwardedFor: string) => ({
    authorization: 'Bearer not-a-key-0123456789',
    'x-forwarded-for': forwardedFor,
  })
  const direct = await buildTestApp(t, { env: { AUTH_FAILURES_PER_MINUTE: '2' } })
  for (const client of ['198.51.100.1', '198.51.100.2']) {
    await direct.app.inject({ url: '/v1/regions', headers: bad(client), remoteAddress: '192.0.2.1' })
  }
  const spoofed = { url: '/v1/regions', headers: bad('198.51.100.3'), remoteAddress: '192.0.2.1' }
  assertProblem(t, await direct.app.inject(spoofed), 429, 'rate_limited')

  const proxied = await buildTestApp(t, {
    env: { AUTH_FAILURES_PER_MINUTE: '2', TRUST_PROXY: '192.0.2.0/24' },
  })
  for (let i = 0; i < 2; i++) {
    await proxied.app.inject({ url: '/v1/regions', headers: bad('198.51.100.1'), remoteAddress: '192.0.2.1' })
  }
  const behind = (client: string) =>
    proxied.app.inject({ url: '/v1/regions', headers: bad(client), remoteAddress: '192.0.2.1' })
  assertProblem(t, await behind('198.51.100.1'), 429, 'rate_limited')
  assertProblem(t, await behind('198.51.100.2'), 401, 'unauthorized')
})
