import t from 'tap'
import { createKey, createOrgWithReporter } from '../factories.js'
import { assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const { app } = ctx
const admin = await createKey(ctx, 'admin')

const SEEDED = [
  {
    code: '530502',
    name: '隆阳区',
    prefecture: '保山市',
    province: '云南省',
    program: 'east_west_cooperation',
  },
  {
    code: '530521',
    name: '施甸县',
    prefecture: '保山市',
    province: '云南省',
    program: 'east_west_cooperation',
  },
  {
    code: '530523',
    name: '龙陵县',
    prefecture: '保山市',
    province: '云南省',
    program: 'east_west_cooperation',
  },
  {
    code: '530524',
    name: '昌宁县',
    prefecture: '保山市',
    province: '云南省',
    program: 'east_west_cooperation',
  },
  {
    code: '530623',
    name: '盐津县',
    prefecture: '昭通市',
    province: '云南省',
    program: 'east_west_cooperation',
  },
  {
    code: '530626',
    name: '绥江县',
    prefecture: '昭通市',
    province: '云南省',
    program: 'east_west_cooperation',
  },
  {
    code: '653124',
    name: '泽普县',
    prefecture: '喀什地区',
    province: '新疆维吾尔自治区',
    program: 'counterpart_support',
  },
]

interface Region {
  code: string
  name: string
  prefecture: string
  province: string
  program: string
}

/** A 6-digit code no real county and no other test uses (9xxxxx is not a province prefix). */
let next = Math.floor(Math.random() * 90_000)
const freshCode = () => `9${String(next++ % 100_000).padStart(5, '0')}`

const region = (code: string) => ({
  code,
  name: '测试县',
  prefecture: '测试州',
  province: '测试省',
  program: 'counterpart_support',
})

t.test('happy', async (t) => {
  t.test('the seven counterpart counties are seeded, unpaged', async (t) => {
    const res = await app.inject({ url: '/v1/regions', headers: admin.auth })
    t.equal(res.statusCode, 200)
    const body = res.json<{ items: Region[]; next_cursor?: unknown }>()
    t.notOk('next_cursor' in body, 'no paging')
    t.same(
      body.items.filter((r) => SEEDED.some((s) => s.code === r.code)),
      SEEDED,
      'the seeded seven, in code order',
    )
    t.equal(body.items.filter((r) => !r.code.startsWith('9')).length, 7)
  })

  t.test('admin registers a region; it is listed and audited', async (t) => {
    const code = freshCode()
    const res = await app.inject({
      method: 'POST',
      url: '/v1/regions',
      headers: admin.auth,
      payload: region(code),
    })
    t.equal(res.statusCode, 201)
    t.same(res.json(), region(code))
    const list = await app.inject({ url: '/v1/regions', headers: admin.auth })
    t.ok(list.json<{ items: Region[] }>().items.some((r) => r.code === code))
    const audit = await app.inject({ url: `/v1/audit?entity=region&entity_id=${code}`, headers: admin.auth })
    t.match(audit.json(), {
      items: [{ action: 'region.created', actor_key_id: admin.keyId, after: region(code) }],
    })
  })
})

t.test('errors', async (t) => {
  t.test('a code that exists is 409 conflict', async (t) => {
    const seeded = await app.inject({
      method: 'POST',
      url: '/v1/regions',
      headers: admin.auth,
      payload: region('530502'),
    })
    assertProblem(t, seeded, 409, 'conflict')
    const code = freshCode()
    await app.inject({ method: 'POST', url: '/v1/regions', headers: admin.auth, payload: region(code) })
    const again = await app.inject({
      method: 'POST',
      url: '/v1/regions',
      headers: admin.auth,
      payload: region(code),
    })
    assertProblem(t, again, 409, 'conflict')
  })

  t.test('a code that is not 6 ASCII digits is 400', async (t) => {
    for (const code of ['53050', '5305021', '53050a', '５３０５０２', ' 530502', '', 530502]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/regions',
        headers: admin.auth,
        payload: { ...region('x'), code },
      })
      const p = assertProblem(t, res, 400, 'validation_failed')
      t.same(
        p.errors?.map((e) => e.path),
        ['/code'],
        JSON.stringify(code),
      )
    }
  })

  t.test('other bad fields are 400 listing each', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/regions',
      headers: admin.auth,
      payload: { code: freshCode(), name: '', prefecture: 'p', province: 'p', program: 'aid', extra: 1 },
    })
    const p = assertProblem(t, res, 400, 'validation_failed')
    t.same(p.errors?.map((e) => e.path).sort(), ['/extra', '/name', '/program'])
  })
})

t.test('security', async (t) => {
  t.test('every role reads regions; only admin registers one', async (t) => {
    const finance = await createKey(ctx, 'finance')
    const reporter = await createOrgWithReporter(ctx)
    for (const headers of [finance.auth, reporter.auth]) {
      t.equal((await app.inject({ url: '/v1/regions', headers })).statusCode, 200)
      const res = await app.inject({
        method: 'POST',
        url: '/v1/regions',
        headers,
        payload: region(freshCode()),
      })
      assertProblem(t, res, 403, 'forbidden')
    }
  })

  t.test('without a key: 401', async (t) => {
    assertProblem(t, await app.inject({ url: '/v1/regions' }), 401, 'unauthorized')
    const res = await app.inject({ method: 'POST', url: '/v1/regions', payload: region(freshCode()) })
    assertProblem(t, res, 401, 'unauthorized')
  })
})
