import { readFileSync } from 'node:fs'
import t from 'tap'
import { buildTestApp } from '../helper.js'

const { app } = await buildTestApp(t)
const COMMITTED = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))
const METHODS = ['get', 'put', 'post', 'delete', 'patch']

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>
  security?: unknown[]
  parameters?: { name: string; in: string }[]
}

t.test(
  'GET /openapi.json is the committed openapi/openapi.json (run `npm run openapi` when this fails)',
  async (t) => {
    const res = await app.inject({ url: '/openapi.json' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /application\/json/)
    t.same(res.json(), COMMITTED)
  },
)

t.test('the document and the docs are open without a key', async (t) => {
  const docs = await app.inject({ url: '/docs' })
  t.equal(docs.statusCode, 200)
  t.match(docs.headers['content-type'], /^text\/html/)
  t.match(docs.body, /<html/i)
  const spec = await app.inject({ url: '/openapi.json', headers: { authorization: 'Bearer nonsense' } })
  t.equal(spec.statusCode, 200)
})

t.test('the document is OpenAPI 3.1 and every /v1 operation documents auth and its problems', async (t) => {
  t.equal(COMMITTED.openapi, '3.1.0')
  t.ok(COMMITTED.components.securitySchemes.bearerAuth, 'bearer scheme defined')
  let operations = 0
  for (const [path, item] of Object.entries(COMMITTED.paths as Record<string, Record<string, Operation>>)) {
    for (const method of METHODS) {
      const op = item[method]
      if (!op) continue
      const where = `${method.toUpperCase()} ${path}`
      if (!path.startsWith('/v1/')) {
        t.same(op.security, [], `${where} is open`)
        continue
      }
      operations++
      t.same(op.security, [{ bearerAuth: [] }], `${where} has security`)
      const responses = op.responses ?? {}
      t.ok(responses['401'], `${where} lists 401`)
      const problems = Object.entries(responses).filter(
        ([status, r]) =>
          Number(status) >= 400 &&
          Number(status) < 500 &&
          status !== '401' &&
          r.content?.['application/problem+json']?.schema?.$ref === '#/components/schemas/Problem',
      )
      t.ok(problems.length > 0, `${where} lists another 4xx problem response`)
      for (const [status, r] of Object.entries(responses)) {
        if (Number(status) >= 400)
          t.ok(r.content?.['application/problem+json'], `${where} ${status} is problem+json`)
      }
      if (method === 'post') {
        t.ok(
          op.parameters?.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key'),
          `${where} documents Idempotency-Key`,
        )
      }
    }
  }
  t.ok(operations >= 10, `${operations} /v1 operations checked`)
})
