import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { encodeCursor } from '../../src/cursor.js'
import { createKey, createOrg, createOrgWithReporter, uniq } from '../factories.js'
import { assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const { app } = ctx
const admin = (await createKey(ctx, 'admin')).auth
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000'

interface Org {
  id: string
  name: string
  kind: string
  created_at: string
}

t.test('happy', async (t) => {
  t.test('admin creates an org', async (t) => {
    const name = uniq('闵行区总工会')
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: admin,
      payload: { name, kind: 'trade_union' },
    })
    t.equal(res.statusCode, 201)
    const org = res.json<Org>()
    t.match(org, { id: /^[0-9a-f-]{36}$/, name, kind: 'trade_union' })
    t.ok(Number.isFinite(Date.parse(org.created_at)), 'created_at is a timestamp')
    t.match(org.created_at, /(Z|[+-]\d\d:\d\d)$/, 'with an offset')
  })

  t.test('names are trimmed', async (t) => {
    const name = uniq('org')
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: admin,
      payload: { name: `  ${name}  `, kind: 'agency' },
    })
    t.equal(res.statusCode, 201)
    t.equal(res.json<Org>().name, name)
  })

  t.test('every authenticated role reads an org', async (t) => {
    const id = await createOrg(ctx, 'soe')
    const reporter = await createOrgWithReporter(ctx)
    const finance = (await createKey(ctx, 'finance')).auth
    for (const headers of [admin, finance, reporter.auth]) {
      const res = await app.inject({ url: `/v1/orgs/${id}`, headers })
      t.equal(res.statusCode, 200)
      t.match(res.json(), { id, kind: 'soe' })
    }
  })

  t.test('admin renames and re-classifies an org', async (t) => {
    const id = await createOrg(ctx, 'agency')
    const name = uniq('renamed')
    const res = await app.inject({
      method: 'PATCH',
      url: `/v1/orgs/${id}`,
      headers: admin,
      payload: { name, kind: 'public_institution' },
    })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { id, name, kind: 'public_institution' })
    const kindOnly = await app.inject({
      method: 'PATCH',
      url: `/v1/orgs/${id}`,
      headers: admin,
      payload: { kind: 'other' },
    })
    t.match(kindOnly.json(), { id, name, kind: 'other' })
    const same = await app.inject({
      method: 'PATCH',
      url: `/v1/orgs/${id}`,
      headers: admin,
      payload: { name },
    })
    t.equal(same.statusCode, 200, 'keeping its own name is no clash')
    t.match((await app.inject({ url: `/v1/orgs/${id}`, headers: admin })).json(), { name, kind: 'other' })
  })

  t.test('the list walks every org once, in name order, page by page', async (t) => {
    const prefix = uniq('walk')
    const mine = new Set<string>()
    for (let i = 0; i < 7; i++) mine.add(await createOrg(ctx, 'market', `${prefix}-${i}`))
    const seen: Org[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const url: string = `/v1/orgs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
      const res = await app.inject({ url, headers: admin })
      t.equal(res.statusCode, 200)
      const body = res.json<{ items: Org[]; next_cursor: string | null }>()
      t.ok(body.items.length <= 2)
      seen.push(...body.items)
      cursor = body.next_cursor
      pages++
    } while (cursor && pages < 1000)
    t.equal(cursor, null, 'the walk ends')
    const ids = seen.map((o) => o.id)
    t.equal(new Set(ids).size, ids.length, 'no org twice')
    for (const id of mine) t.ok(ids.includes(id), 'every created org seen')
    const all = await app.inject({ url: '/v1/orgs?limit=500', headers: admin })
    t.same(
      all.json<{ items: Org[] }>().items.map((o) => o.id),
      ids,
      'same rows as one big page',
    )
  })

  t.test('a row inserted during a walk is neither repeated nor does it break the walk', async (t) => {
    const prefix = uniq('live')
    await createOrg(ctx, 'market', `${prefix}-a`)
    await createOrg(ctx, 'market', `${prefix}-c`)
    const first = await app.inject({ url: '/v1/orgs?limit=1', headers: admin })
    const { next_cursor } = first.json<{ next_cursor: string }>()
    await createOrg(ctx, 'market', `${prefix}-b`)
    const ids = first.json<{ items: Org[] }>().items.map((o) => o.id)
    let cursor: string | null = next_cursor
    while (cursor) {
      const res: LightMyRequestResponse = await app.inject({
        url: `/v1/orgs?limit=3&cursor=${encodeURIComponent(cursor)}`,
        headers: admin,
      })
      const body: { items: Org[]; next_cursor: string | null } = res.json()
      ids.push(...body.items.map((o) => o.id))
      cursor = body.next_cursor
    }
    t.equal(new Set(ids).size, ids.length, 'no org twice')
  })
})

t.test('errors', async (t) => {
  t.test('a duplicate name is 409 conflict, on create and on rename', async (t) => {
    const name = uniq('org')
    await createOrg(ctx, 'agency', name)
    const dup = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: admin,
      payload: { name, kind: 'enterprise' },
    })
    const p = assertProblem(t, dup, 409, 'conflict')
    t.match(p.detail, name)
    const other = await createOrg(ctx)
    const rename = await app.inject({
      method: 'PATCH',
      url: `/v1/orgs/${other}`,
      headers: admin,
      payload: { name },
    })
    assertProblem(t, rename, 409, 'conflict')
  })

  t.test('unknown fields are 400 naming the field', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: admin,
      payload: { name: uniq('org'), kind: 'agency', id: UNKNOWN_ID },
    })
    const p = assertProblem(t, res, 400, 'validation_failed')
    t.same(p.errors, [{ path: '/id', message: 'unknown field' }])
    const patch = await app.inject({
      method: 'PATCH',
      url: `/v1/orgs/${await createOrg(ctx)}`,
      headers: admin,
      payload: { created_at: '2024-01-01T00:00:00Z' },
    })
    t.match(assertProblem(t, patch, 400, 'validation_failed').errors, [{ path: '/created_at' }])
  })

  t.test('bad bodies are 400 listing every problem', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: admin,
      payload: { name: '   ', kind: 'club' },
    })
    const p = assertProblem(t, res, 400, 'validation_failed')
    t.same(p.errors?.map((e) => e.path).sort(), ['/kind', '/name'])
    const long = await app.inject({
      method: 'POST',
      url: '/v1/orgs',
      headers: admin,
      payload: { name: 'x'.repeat(201), kind: 'agency' },
    })
    assertProblem(t, long, 400, 'validation_failed')
    const missing = await app.inject({ method: 'POST', url: '/v1/orgs', headers: admin, payload: {} })
    t.equal(assertProblem(t, missing, 400, 'validation_failed').errors?.length, 2)
    const empty = await app.inject({
      method: 'PATCH',
      url: `/v1/orgs/${await createOrg(ctx)}`,
      headers: admin,
      payload: {},
    })
    assertProblem(t, empty, 400, 'validation_failed')
  })

  t.test('a malformed id is 400, an unknown one 404', async (t) => {
    for (const bad of ['not-a-uuid', '123', `${UNKNOWN_ID}0`]) {
      const res = await app.inject({ url: `/v1/orgs/${bad}`, headers: admin })
      t.match(assertProblem(t, res, 400, 'validation_failed').errors, [{ path: '/params/id' }])
    }
    assertProblem(t, await app.inject({ url: `/v1/orgs/${UNKNOWN_ID}`, headers: admin }), 404, 'not_found')
    const patch = await app.inject({
      method: 'PATCH',
      url: `/v1/orgs/${UNKNOWN_ID}`,
      headers: admin,
      payload: { kind: 'other' },
    })
    assertProblem(t, patch, 404, 'not_found')
  })

  t.test('paging parameters are checked', async (t) => {
    for (const q of [
      'limit=0',
      'limit=501',
      'limit=abc',
      'limit=1.5',
      'cursor=',
      'cursor=garbage',
      'offset=10',
    ]) {
      const res = await app.inject({ url: `/v1/orgs?${q}`, headers: admin })
      assertProblem(t, res, 400, 'validation_failed')
    }
  })

  t.test('a forged cursor is 400, never a database error', async (t) => {
    for (const position of [['a\u0000b'], ['x'.repeat(201)], [42]]) {
      const cursor = encodeCursor(position, 'orgs')
      const res = await app.inject({ url: `/v1/orgs?cursor=${cursor}`, headers: admin })
      t.match(assertProblem(t, res, 400, 'validation_failed').errors, [{ path: '/querystring/cursor' }])
    }
  })

  t.test("a cursor from another listing's filters is 400", async (t) => {
    await createOrg(ctx)
    await createOrg(ctx)
    const audit = await app.inject({ url: '/v1/audit?limit=1&entity=org', headers: admin })
    const cursor = audit.json<{ next_cursor: string }>().next_cursor
    t.ok(cursor, 'got an audit cursor')
    const res = await app.inject({ url: `/v1/orgs?cursor=${encodeURIComponent(cursor)}`, headers: admin })
    t.match(assertProblem(t, res, 400, 'validation_failed').errors, [{ path: '/querystring/cursor' }])
  })
})

t.test('security', async (t) => {
  t.test('without a key every orgs route is 401', async (t) => {
    const id = await createOrg(ctx)
    for (const [method, url] of [
      ['POST', '/v1/orgs'],
      ['GET', '/v1/orgs'],
      ['GET', `/v1/orgs/${id}`],
      ['PATCH', `/v1/orgs/${id}`],
    ] as const) {
      const res = await app.inject({ method, url, payload: method === 'GET' ? undefined : { kind: 'other' } })
      assertProblem(t, res, 401, 'unauthorized')
    }
  })

  t.test('finance and reporters cannot write orgs (403)', async (t) => {
    const id = await createOrg(ctx)
    const reporter = await createOrgWithReporter(ctx)
    const finance = (await createKey(ctx, 'finance')).auth
    for (const headers of [finance, reporter.auth]) {
      const create = await app.inject({
        method: 'POST',
        url: '/v1/orgs',
        headers,
        payload: { name: uniq('org'), kind: 'agency' },
      })
      assertProblem(t, create, 403, 'forbidden')
      const patch = await app.inject({
        method: 'PATCH',
        url: `/v1/orgs/${reporter.orgId}`,
        headers,
        payload: { name: uniq('org') },
      })
      assertProblem(t, patch, 403, 'forbidden')
    }
    t.match((await app.inject({ url: `/v1/orgs/${id}`, headers: admin })).json(), { id }, 'nothing changed')
  })

  t.test('every authenticated role may list orgs', async (t) => {
    const reporter = await createOrgWithReporter(ctx)
    const finance = (await createKey(ctx, 'finance')).auth
    for (const headers of [admin, finance, reporter.auth]) {
      t.equal((await app.inject({ url: '/v1/orgs', headers })).statusCode, 200)
    }
  })
})
