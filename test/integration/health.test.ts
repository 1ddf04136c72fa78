import t from 'tap'
import { assertProblem, buildTestApp } from '../helper.js'

t.test('/healthz and /readyz answer 200 without a key', async (t) => {
  const { app } = await buildTestApp(t)
  const health = await app.inject({ url: '/healthz' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
})

t.test('/readyz is 503 once the database is gone; /healthz stays 200', async (t) => {
  const { app, database } = await buildTestApp(t)
  await database.close()
  const ready = await app.inject({ url: '/readyz' })
  const p = assertProblem(t, ready, 503, 'service_unavailable')
  t.notMatch(p.detail, /pglite|pool|closed/i, 'says nothing about internals')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})
