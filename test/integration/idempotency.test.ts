import t from 'tap'
import { createKey, uniq } from '../factories.js'
import { assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const { app } = ctx

async function orgsNamed(name: string) {
  const res = await app.inject({ url: '/v1/orgs?limit=500', headers: ctx.adminAuth })
  return res.json<{ items: { name: string }[] }>().items.filter((o) => o.name === name).length
}

t.test('same key + same body → the first response replayed, one org', async (t) => {
  const admin = await createKey(ctx, 'admin')
  const key = uniq('idem')
  const name = uniq('org')
  const send = () =>
    app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: { ...admin.auth, 'idempotency-key': key },
      payload: { name, kind: 'agency' },
    })
  const first = await send()
  t.equal(first.statusCode, 201)
  t.notOk(first.headers['idempotent-replayed'], 'the first is not a replay')
  const second = await send()
  t.equal(second.statusCode, 201)
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.same(second.json(), first.json(), 'same body')
  t.equal(await orgsNamed(name), 1, 'one org')
  const audit = await app.inject({
    url: `/v1/audit?entity_id=${first.json<{ id: string }>().id}`,
    headers: admin.auth,
  })
  t.equal(audit.json<{ items: unknown[] }>().items.length, 1, 'one audit row')
})

t.test('same key + a different body → 422 idempotency_key_reused', async (t) => {
  const admin = await createKey(ctx, 'admin')
  const key = uniq('idem')
  const name = uniq('org')
  const headers = { ...admin.auth, 'idempotency-key': key }
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/orgs', headers, payload: { name, kind: 'agency' } }))
      .statusCode,
    201,
  )
  const other = await app.inject({ method: 'POST', url: '/v1/orgs', headers, payload: { name, kind: 'soe' } })
  assertProblem(t, other, 422, 'idempotency_key_reused')
  const otherPath = await app.inject({
    method: 'POST',
    url: '/v1/regions',
    headers,
    payload: { code: '999990', name: 'x', prefecture: 'x', province: 'x', program: 'counterpart_support' },
  })
  assertProblem(t, otherPath, 422, 'idempotency_key_reused')
})

t.test('key order and white space in the body do not matter', async (t) => {
  const admin = await createKey(ctx, 'admin')
  const key = uniq('idem')
  const name = uniq('org')
  const headers = { ...admin.auth, 'idempotency-key': key, 'content-type': 'application/json' }
  const first = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers,
    payload: `{"name":"${name}","kind":"agency"}`,
  })
  t.equal(first.statusCode, 201)
  const reordered = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers,
    payload: `{\n  "kind" : "agency",\n\t"name": "${name}"\n}\n`,
  })
  t.equal(reordered.statusCode, 201)
  t.equal(reordered.headers['idempotent-replayed'], 'true')
  t.same(reordered.json(), first.json())
})

t.test('a 4xx does not bind the key: a corrected retry is processed', async (t) => {
  const admin = await createKey(ctx, 'admin')
  const key = uniq('idem')
  const headers = { ...admin.auth, 'idempotency-key': key }
  const name = uniq('org')
  const invalid = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers,
    payload: { name, kind: 'club' },
  })
  assertProblem(t, invalid, 400, 'validation_failed')
  const taken = uniq('org')
  await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: admin.auth,
    payload: { name: taken, kind: 'agency' },
  })
  const clash = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers,
    payload: { name: taken, kind: 'agency' },
  })
  assertProblem(t, clash, 409, 'conflict')
  const fixed = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers,
    payload: { name, kind: 'agency' },
  })
  t.equal(fixed.statusCode, 201, 'processed afresh')
  t.notOk(fixed.headers['idempotent-replayed'])
  t.equal(await orgsNamed(name), 1)
})

t.test('keys are scoped to the API key that sent them', async (t) => {
  const a = await createKey(ctx, 'admin')
  const b = await createKey(ctx, 'admin')
  const key = uniq('idem')
  const first = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: { ...a.auth, 'idempotency-key': key },
    payload: { name: uniq('org'), kind: 'agency' },
  })
  t.equal(first.statusCode, 201)
  const second = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: { ...b.auth, 'idempotency-key': key },
    payload: { name: uniq('org'), kind: 'agency' },
  })
  t.equal(second.statusCode, 201, 'another API key may use the same Idempotency-Key')
  t.notOk(second.headers['idempotent-replayed'])
})

t.test('concurrent requests with one key have exactly one effect', async (t) => {
  const admin = await createKey(ctx, 'admin')
  const key = uniq('idem')
  const name = uniq('org')
  const responses = await Promise.all(
    Array.from({ length: 5 }, () =>
      app.inject({
        method: 'POST',
        url: '/v1/orgs',
        headers: { ...admin.auth, 'idempotency-key': key },
        payload: { name, kind: 'agency' },
      }),
    ),
  )
  for (const r of responses) {
    t.ok(
      r.statusCode === 201 ||
        (r.statusCode === 409 && r.json<{ code: string }>().code === 'idempotency_key_in_use'),
      `201 or 409 idempotency_key_in_use (got ${r.statusCode})`,
    )
  }
  t.equal(
    responses.filter((r) => r.statusCode === 201 && !r.headers['idempotent-replayed']).length,
    1,
    'one original',
  )
  t.equal(await orgsNamed(name), 1, 'one org')
})

t.test('a malformed Idempotency-Key is 400', async (t) => {
  const admin = await createKey(ctx, 'admin')
  for (const key of ['x'.repeat(256), '']) {
    const name = uniq('org')
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: { ...admin.auth, 'idempotency-key': key },
      payload: { name, kind: 'agency' },
    })
    t.match(assertProblem(t, res, 400, 'validation_failed').errors, [{ path: '/headers/idempotency-key' }])
    t.equal(await orgsNamed(name), 0, 'nothing created')
  }
  const max = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: { ...admin.auth, 'idempotency-key': '~'.repeat(255) },
    payload: { name: uniq('org'), kind: 'agency' },
  })
  t.equal(max.statusCode, 201, '255 printable characters are fine')
})
