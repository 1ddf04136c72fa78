import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { createKey, createOrg, createOrgWithReporter } from '../factories.js'
import { assertProblem, bearer, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const { app } = ctx
const admin = await createKey(ctx, 'admin')
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000'

interface ApiKey {
  id: string
  name: string
  role: string
  org_id: string | null
  created_at: string
  revoked_at: string | null
  secret?: string
}

async function createViaApi(body: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin.auth, payload: body })
}

t.test('happy', async (t) => {
  t.test('creating a key returns its secret once; listing never shows it', async (t) => {
    const res = await createViaApi({ name: 'finance office', role: 'finance' })
    t.equal(res.statusCode, 201)
    const key = res.json<ApiKey>()
    t.match(key, { name: 'finance office', role: 'finance', org_id: null, revoked_at: null })
    t.match(key.secret, /^mhk_[A-Za-z0-9_-]{43}$/, 'a 256-bit secret')
    const list = await app.inject({ url: '/v1/api-keys', headers: admin.auth })
    t.equal(list.statusCode, 200)
    const items = list.json<{ items: ApiKey[] }>().items
    const listed = items.find((k) => k.id === key.id)
    t.ok(listed, 'the key is listed')
    t.notOk(list.body.includes(key.secret!), 'no secret anywhere in the list')
    t.ok(
      items.every((k) => !('secret' in k)),
      'no item has a secret member',
    )
    t.equal(
      (await app.inject({ url: '/v1/orgs', headers: bearer(key.secret!) })).statusCode,
      200,
      'the key works',
    )
  })

  t.test('a reporter key names its org', async (t) => {
    const orgId = await createOrg(ctx)
    const res = await createViaApi({ name: 'union reporter', role: 'reporter', org_id: orgId })
    t.equal(res.statusCode, 201)
    t.match(res.json(), { role: 'reporter', org_id: orgId })
  })

  t.test('revoking a key makes its next request 401', async (t) => {
    const { secret, id } = (await createViaApi({ name: 'short-lived', role: 'admin' })).json<
      ApiKey & { secret: string }
    >()
    t.equal((await app.inject({ url: '/v1/orgs', headers: bearer(secret) })).statusCode, 200)
    const del = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${id}`, headers: admin.auth })
    t.equal(del.statusCode, 204)
    t.equal(del.body, '')
    assertProblem(t, await app.inject({ url: '/v1/orgs', headers: bearer(secret) }), 401, 'unauthorized')
    const listed = (await app.inject({ url: '/v1/api-keys', headers: admin.auth }))
      .json<{ items: ApiKey[] }>()
      .items.find((k) => k.id === id)
    t.ok(listed?.revoked_at, 'listed as revoked')
    const again = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${id}`, headers: admin.auth })
    t.equal(again.statusCode, 204, 'revoking twice is harmless')
    const audit = await app.inject({ url: `/v1/audit?entity=api_key&entity_id=${id}`, headers: admin.auth })
    t.same(
      audit.json<{ items: { action: string }[] }>().items.map((e) => e.action),
      ['api_key.revoked', 'api_key.created'],
      'one revocation audited',
    )
  })

  t.test('secrets are stored only as a hash', async (t) => {
    const { secret, id } = (await createViaApi({ name: 'hash check', role: 'finance' })).json<
      ApiKey & { secret: string }
    >()
    const [row] = await queryRows<Record<string, unknown>>(
      ctx.database.db,
      sql`select * from api_keys where id = ${id}`,
    )
    t.ok(row, 'the row exists')
    for (const [column, value] of Object.entries(row!)) {
      t.not(String(value), secret, `${column} is not the secret`)
      t.notOk(String(value).includes(secret.slice(4)), `${column} does not contain it`)
    }
    t.equal(row!.key_hash, createHash('sha256').update(secret).digest('hex'), 'a SHA-256 digest')
    const [found] = await queryRows<{ n: number | string }>(
      ctx.database.db,
      sql`select count(*) as n from api_keys k where row_to_json(k)::text like ${`%${secret.slice(4)}%`}`,
    )
    t.equal(Number(found!.n), 0, 'no column anywhere holds it')
  })
})

t.test('errors', async (t) => {
  t.test('a reporter key must name an org; admin and finance keys must not', async (t) => {
    const noOrg = await createViaApi({ name: 'r', role: 'reporter' })
    t.match(assertProblem(t, noOrg, 400, 'validation_failed').errors, [{ path: '/org_id' }])
    const orgId = await createOrg(ctx)
    for (const role of ['admin', 'finance']) {
      const res = await createViaApi({ name: 'x', role, org_id: orgId })
      t.match(assertProblem(t, res, 400, 'validation_failed').errors, [{ path: '/org_id' }], role)
    }
    const unknownOrg = await createViaApi({ name: 'r', role: 'reporter', org_id: UNKNOWN_ID })
    t.match(assertProblem(t, unknownOrg, 400, 'validation_failed').errors, [{ path: '/org_id' }])
  })

  t.test('bad fields are 400', async (t) => {
    const res = await createViaApi({ name: '', role: 'superuser', secret: 'mine' })
    const p = assertProblem(t, res, 400, 'validation_failed')
    t.same(p.errors?.map((e) => e.path).sort(), ['/name', '/role', '/secret'])
  })

  t.test('revoking: malformed id 400, unknown id 404', async (t) => {
    const bad = await app.inject({ method: 'DELETE', url: '/v1/api-keys/nope', headers: admin.auth })
    assertProblem(t, bad, 400, 'validation_failed')
    const unknown = await app.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${UNKNOWN_ID}`,
      headers: admin.auth,
    })
    assertProblem(t, unknown, 404, 'not_found')
  })
})

t.test('security', async (t) => {
  t.test('only admin manages keys', async (t) => {
    const finance = await createKey(ctx, 'finance')
    const reporter = await createOrgWithReporter(ctx)
    for (const headers of [finance.auth, reporter.auth]) {
      const create = await app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers,
        payload: { name: 'escalate', role: 'admin' },
      })
      assertProblem(t, create, 403, 'forbidden')
      assertProblem(t, await app.inject({ url: '/v1/api-keys', headers }), 403, 'forbidden')
      const revoke = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${admin.keyId}`, headers })
      assertProblem(t, revoke, 403, 'forbidden')
    }
    t.equal(
      (await app.inject({ url: '/v1/orgs', headers: admin.auth })).statusCode,
      200,
      'admin key still works',
    )
  })

  t.test('a reporter cannot revoke its own key either', async (t) => {
    const reporter = await createOrgWithReporter(ctx)
    const res = await app.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${reporter.keyId}`,
      headers: reporter.auth,
    })
    assertProblem(t, res, 403, 'forbidden')
  })

  t.test('without a key: 401', async (t) => {
    assertProblem(t, await app.inject({ url: '/v1/api-keys' }), 401, 'unauthorized')
    const res = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      payload: { name: 'x', role: 'admin' },
    })
    assertProblem(t, res, 401, 'unauthorized')
  })
})
