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
