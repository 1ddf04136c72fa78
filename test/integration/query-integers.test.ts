/**
 * Query and path integers are decimal digits only (issue 13): what JavaScript's Number() would also read
 * (hex, exponents, a sign, spaces) is a 400 naming the parameter, like any other non-integer.
 */
import t from 'tap'
import { createKey } from '../factories.js'
import { assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const finance = (await createKey(ctx, 'finance')).auth
const get = (url: string) => ctx.app.inject({ url, headers: finance })

t.test('year, month and limit: decimal digits only', async (t) => {
  for (const [url, path] of [
    ['/v1/totals?year=0x7E8', '/querystring/year'],
    ['/v1/totals?year=2.024e3', '/querystring/year'],
    ['/v1/totals?year=%2B2024', '/querystring/year'],
    ['/v1/totals?year=%202024', '/querystring/year'],
    ['/v1/totals?year=2024.0', '/querystring/year'],
    ['/v1/purchases?limit=1e1', '/querystring/limit'],
    ['/v1/purchases?limit=0x10', '/querystring/limit'],
    ['/v1/reports/monthly?year=2024&month=0x5', '/querystring/month'],
    ['/v1/targets/0x7E8', '/params/year'],
  ] as const) {
    assertProblem(t, await get(url), 400, 'validation_failed', [path])
  }
})

t.test('plain decimal integers still work, and defaults still apply', async (t) => {
  for (const url of ['/v1/totals?year=2024', '/v1/purchases?limit=10', '/v1/purchases', '/v1/targets/2024']) {
    const res = await get(url)
    t.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 200)}`)
  }
  t.equal((await get('/v1/reports/monthly?year=2024&month=05')).statusCode, 200, 'a leading zero is digits')
})
