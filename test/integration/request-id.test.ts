/** X-Request-Id: a short printable one is kept and echoed; anything else is replaced by a new UUID. */
import t from 'tap'
import { buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const idOf = async (headers: Record<string, string>, url = '/healthz') =>
  (await ctx.app.inject({ url, headers })).headers['x-request-id']

t.test('a short printable id is kept and echoed, on any route and on errors', async (t) => {
  t.equal(await idOf({ 'x-request-id': 'erp-2024-05-20/0001' }), 'erp-2024-05-20/0001')
  t.equal(await idOf({ 'x-request-id': 'abc' }, '/v1/totals?year=2024'), 'abc', 'a 401 carries it too')
  t.equal(await idOf({ 'x-request-id': 'x'.repeat(128) }), 'x'.repeat(128))
})

t.test('no id, or one too long or not printable → a new UUID, never the client’s text', async (t) => {
  t.match(await idOf({}), UUID)
  for (const sent of ['x'.repeat(129), 'has spaces', 'tab\there', '']) {
    const id = await idOf({ 'x-request-id': sent })
    t.match(id, UUID, JSON.stringify(sent.slice(0, 20)))
  }
  t.not(await idOf({}), await idOf({}), 'a new one each time')
})
