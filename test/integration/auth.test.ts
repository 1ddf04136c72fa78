import t from 'tap'
import { createKey, createOrgWithReporter } from '../factories.js'
import { ADMIN_SECRET, assertProblem, bearer, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const { app } = ctx

t.test('happy', async (t) => {
  t.test('the ADMIN_API_KEY bootstrap key works', async (t) => {
    t.equal((await app.inject({ url: '/v1/orgs', headers: ctx.adminAuth })).statusCode, 200)
  })

  t.test('the scheme name is case-insensitive', async (t) => {
    const res = await app.inject({ url: '/v1/orgs', headers: { authorization: `bearer ${ADMIN_SECRET}` } })
    t.equal(res.statusCode, 200)
  })

  t.test('open routes need no key', async (t) => {
    for (const url of ['/healthz', '/readyz', '/openapi.json', '/docs']) {
      t.equal((await app.inject({ url })).statusCode, 200, url)
    }
  })
})

t.test('errors', async (t) => {
  t.test('no Authorization header: 401', async (t) => {
    const p = assertProblem(t, await app.inject({ url: '/v1/orgs' }), 401, 'unauthorized')
    t.match(p.detail, /Bearer/)
  })

  t.test('a malformed header: 401', async (t) => {
    for (const authorization of [
      ADMIN_SECRET,
      `Basic ${Buffer.from(`admin:${ADMIN_SECRET}`).toString('base64')}`,
      'Bearer',
      'Bearer ',
      `Bearer ${ADMIN_SECRET} extra`,
      `Token ${ADMIN_SECRET}`,
      `Bearer${ADMIN_SECRET}`,
    ]) {
      const res = await app.inject({ url: '/v1/orgs', headers: { authorization } })
      assertProblem(t, res, 401, 'unauthorized')
    }
  })

  t.test('an unknown key: 401, saying nothing about how close it was', async (t) => {
    const near = `${ADMIN_SECRET.slice(0, -1)}X`
    const a = assertProblem(
      t,
      await app.inject({ url: '/v1/orgs', headers: bearer(near) }),
      401,
      'unauthorized',
    )
    const b = assertProblem(
      t,
      await app.inject({ url: '/v1/orgs', headers: bearer('mhk_completely-different') }),
      401,
      'unauthorized',
    )
    t.same(a, b, 'same answer')
  })
})

t.test('security', async (t) => {
  t.test('finance reads but cannot write: 403', async (t) => {
    const finance = await createKey(ctx, 'finance')
    t.equal((await app.inject({ url: '/v1/orgs', headers: finance.auth })).statusCode, 200)
    t.equal((await app.inject({ url: '/v1/audit', headers: finance.auth })).statusCode, 200)
    for (const [url, payload] of [
      ['/v1/orgs', { name: 'x', kind: 'agency' }],
      [
        '/v1/regions',
        { code: '999999', name: 'x', prefecture: 'x', province: 'x', program: 'counterpart_support' },
      ],
      ['/v1/api-keys', { name: 'x', role: 'admin' }],
    ] as const) {
      const p = assertProblem(
        t,
        await app.inject({ method: 'POST', url, headers: finance.auth, payload }),
        403,
        'forbidden',
      )
      t.match(p.detail, /admin/)
    }
  })

  t.test('a reporter cannot read the audit log or the keys: 403', async (t) => {
    const reporter = await createOrgWithReporter(ctx)
    assertProblem(t, await app.inject({ url: '/v1/audit', headers: reporter.auth }), 403, 'forbidden')
    assertProblem(t, await app.inject({ url: '/v1/api-keys', headers: reporter.auth }), 403, 'forbidden')
  })

  t.test('the role check runs before the body is looked at', async (t) => {
    const finance = await createKey(ctx, 'finance')
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: finance.auth,
      payload: { nonsense: true },
    })
    assertProblem(t, res, 403, 'forbidden')
  })

  t.test('authentication runs before validation: a bad request without a key is 401', async (t) => {
    assertProblem(t, await app.inject({ url: '/v1/orgs/not-a-uuid' }), 401, 'unauthorized')
  })
})
