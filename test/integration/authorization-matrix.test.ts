/**
 * The authorization matrix, generated from the app's own route table (issue 13): every route the app
 * registers × seven principals — no key, a bad key, a revoked key, admin, finance, the reporter of the org
 * that owns the resource ("owner") and the reporter of another org ("stranger") — answers as the contract's
 * roles say (401 / 403 / 404 for another org's record / 2xx). The routes are read from the app, so a new
 * route without a row in EXPECTED fails this test; a known path with a method it does not route answers
 * 405 problem+json.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { createPurchase } from '../api.js'
import { createKey, createOrg, csv, type Key, purchaseInput, uniq } from '../factories.js'
import { operations } from '../fuzz/openapi-doc.js'
import { ADMIN_SECRET, bearer, buildTestApp, FIXED_NOW, type TestApp } from '../helper.js'

const PRINCIPALS = ['none', 'bad', 'revoked', 'admin', 'finance', 'owner', 'stranger'] as const
type Principal = (typeof PRINCIPALS)[number]
type Allowed = 'admin' | 'finance' | 'owner' | 'stranger'

interface World {
  ctx: TestApp
  orgA: string
  orgB: string
  keys: Record<Principal, string | undefined>
}

/** The status each valid key gets; keys that are missing, bad or revoked get 401 on every /v1 route. */
type Outcome = Record<Allowed, number>

interface Expectation {
  /** A request that is valid apart from who sends it, on org A's resources (fresh ones where it changes them). */
  request: (w: World) => Promise<InjectOptions> | InjectOptions
  /** The status each valid key gets; undefined for a route open to everyone. */
  outcome?: Outcome
  /** An open route's status, the same for all seven (200 unless given). */
  open?: number
}

const everyone = (status: number): Outcome => ({
  admin: status,
  finance: status,
  owner: status,
  stranger: status,
})
const adminOnly = (status: number): Outcome => ({ admin: status, finance: 403, owner: 403, stranger: 403 })
/** Writes to org A's records: admin and A's reporter; finance cannot write; B's reporter may not touch A. */
const ownOrgWrite = (status: number, stranger = 403): Outcome => ({
  admin: status,
  finance: 403,
  owner: status,
  stranger,
})
/** Reads of org A's records: another org's reporter is refused (403 for a filter, 404 for a record). */
const ownOrgRead = (stranger: number): Outcome => ({ admin: 200, finance: 200, owner: 200, stranger })

const get = (url: string): InjectOptions => ({ method: 'GET', url })
const json = (method: InjectOptions['method'], url: string, payload: object): InjectOptions => ({
  method,
  url,
  payload,
})

/** A fresh record of org A, created by admin. */
const recordOfA = async (w: World) => (await createPurchase(w.ctx, w.ctx.adminAuth, { org_id: w.orgA })).id

/** Every route of the app, in Fastify's path syntax, with what each principal gets. */
const EXPECTED: Record<string, Expectation> = {
  'GET /healthz': { request: () => get('/healthz') },
  'GET /readyz': { request: () => get('/readyz') },
  'GET /openapi.json': { request: () => get('/openapi.json') },
  'GET /docs': { request: () => get('/docs') },
  'GET /docs/': { request: () => get('/docs/') },
  // swagger-ui redirects its index page to /docs/.
  'GET /docs/static/index.html': { request: () => get('/docs/static/index.html'), open: 302 },
  'GET /docs/static/swagger-initializer.js': { request: () => get('/docs/static/swagger-initializer.js') },
  'GET /docs/*': { request: () => get('/docs/static/swagger-ui.css') },
  'GET /docs/json': { request: () => get('/docs/json') },
  'GET /docs/yaml': { request: () => get('/docs/yaml') },

  'POST /v1/orgs': {
    request: () => json('POST', '/v1/orgs', { name: uniq('org'), kind: 'agency' }),
    outcome: adminOnly(201),
  },
  'GET /v1/orgs': { request: () => get('/v1/orgs'), outcome: everyone(200) },
  'GET /v1/orgs/:id': { request: (w) => get(`/v1/orgs/${w.orgA}`), outcome: everyone(200) },
  'PATCH /v1/orgs/:id': {
    request: (w) => json('PATCH', `/v1/orgs/${w.orgA}`, { kind: 'agency' }),
    outcome: adminOnly(200),
  },
  'GET /v1/regions': { request: () => get('/v1/regions'), outcome: everyone(200) },
  'POST /v1/regions': {
    request: () =>
      json('POST', '/v1/regions', {
        code: String(100000 + Math.floor(Math.random() * 899999)),
        name: uniq('county'),
        prefecture: '某州',
        province: '云南省',
        program: 'counterpart_support',
      }),
    outcome: adminOnly(201),
  },
  'POST /v1/api-keys': {
    request: () => json('POST', '/v1/api-keys', { name: uniq('key'), role: 'finance' }),
    outcome: adminOnly(201),
  },
  'GET /v1/api-keys': { request: () => get('/v1/api-keys'), outcome: adminOnly(200) },
  'DELETE /v1/api-keys/:id': {
    request: async (w) => ({
      method: 'DELETE',
      url: `/v1/api-keys/${(await createKey(w.ctx, 'finance')).keyId}`,
    }),
    outcome: adminOnly(204),
  },
  'GET /v1/audit': {
    request: () => get('/v1/audit'),
    outcome: { admin: 200, finance: 200, owner: 403, stranger: 403 },
  },

  'POST /v1/purchases': {
    request: (w) => json('POST', '/v1/purchases', purchaseInput({ org_id: w.orgA })),
    outcome: ownOrgWrite(201),
  },
  'GET /v1/purchases': { request: (w) => get(`/v1/purchases?org_id=${w.orgA}`), outcome: ownOrgRead(403) },
  'POST /v1/purchases/batch': {
    request: (w) => json('POST', '/v1/purchases/batch', { items: [purchaseInput({ org_id: w.orgA })] }),
    outcome: ownOrgWrite(201),
  },
  'GET /v1/purchases/:id': {
    request: async (w) => get(`/v1/purchases/${await recordOfA(w)}`),
    outcome: ownOrgRead(404),
  },
  'POST /v1/purchases/:id/void': {
    request: async (w) =>
      json('POST', `/v1/purchases/${await recordOfA(w)}/void`, { reason: 'entered twice' }),
    outcome: ownOrgWrite(200, 404),
  },
  'POST /v1/purchases/import': {
    request: (w) => ({
      method: 'POST',
      url: `/v1/purchases/import?org_id=${w.orgA}`,
      headers: { 'content-type': 'text/csv' },
      payload: csv(
        'channel,amount,occurred_on,region_code,supplier',
        `wholesale,1.00,2024-05-20,530502,${uniq('s')}`,
      ),
    }),
    outcome: ownOrgWrite(201),
  },
  'GET /v1/purchases/export': {
    request: (w) => get(`/v1/purchases/export?org_id=${w.orgA}`),
    outcome: ownOrgRead(403),
  },
  'GET /v1/targets/:year': { request: () => get('/v1/targets/2024'), outcome: everyone(200) },
  'PUT /v1/targets/:year': {
    request: () => json('PUT', '/v1/targets/2031', { targets: [] }),
    outcome: adminOnly(200),
  },
  'PUT /v1/canteen-budgets/:year/:org_id': {
    request: (w) => json('PUT', `/v1/canteen-budgets/2024/${w.orgA}`, { canteen_total: '820000.00' }),
    outcome: ownOrgWrite(200),
  },
  'GET /v1/canteen-budgets/:year': { request: () => get('/v1/canteen-budgets/2024'), outcome: everyone(200) },
  'GET /v1/totals': { request: () => get('/v1/totals?year=2024'), outcome: everyone(200) },
  'GET /v1/totals/breakdown': {
    request: () => get('/v1/totals/breakdown?year=2024&by=channel'),
    outcome: everyone(200),
  },
  'GET /v1/reports/monthly': {
    request: () => get('/v1/reports/monthly?year=2024&month=5'),
    outcome: everyone(200),
  },
}

interface Route {
  method: string
  /** Fastify's syntax: /v1/orgs/:id */
  path: string
}

/**
 * Every route the app registers, read from Fastify's route tree (`printRoutes`): each line is a path segment
 * under its parent (indented four columns per level) with the methods routed there.
 */
function routesOf(app: FastifyInstance): Route[] {
  const routes: Route[] = []
  const prefixes: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    const path = (prefixes[depth - 1] ?? '') + match[2]
    prefixes[depth] = path
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, path })
  }
  return routes
}

/** The expectation of a route: its own, or for an automatic HEAD route, its GET's (without a body). */
function expectationOf(route: Route): Expectation | undefined {
  const own = EXPECTED[`${route.method} ${route.path}`]
  if (own || route.method !== 'HEAD') return own
  const viaGet = EXPECTED[`GET ${route.path}`]
  return viaGet && { ...viaGet, request: async (w) => ({ ...(await viaGet.request(w)), method: 'HEAD' }) }
}

/** The Authorization header of a principal. */
function authorization(w: World, who: Principal): Record<string, string> {
  if (who === 'none') return {}
  if (who === 'bad') return bearer('mhk_this-key-was-never-issued-0000000000000')
  return bearer(w.keys[who]!)
}

const CODES: Record<number, string> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
}

/** What a cell answered: the status, or what is wrong with an error answer's body. */
function cellOutcome(res: LightMyRequestResponse, method: string): number | string {
  if (res.statusCode < 400) return res.statusCode
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    return `${res.statusCode} without problem+json`
  }
  if (method === 'HEAD') return res.statusCode
  const code = (res.json() as { code?: string }).code
  const expected = CODES[res.statusCode]
  return expected === undefined || code === expected ? res.statusCode : `${res.statusCode} ${code}`
}

async function setUp(ctx: TestApp): Promise<World> {
  const orgA = await createOrg(ctx, 'agency')
  const orgB = await createOrg(ctx, 'agency')
  const [finance, owner, stranger, revoked] = (await Promise.all([
    createKey(ctx, 'finance'),
    createKey(ctx, 'reporter', orgA),
    createKey(ctx, 'reporter', orgB),
    createKey(ctx, 'reporter', orgA),
  ])) as Key[]
  const res = await ctx.app.inject({
    method: 'DELETE',
    url: `/v1/api-keys/${revoked!.keyId}`,
    headers: ctx.adminAuth,
  })
  if (res.statusCode !== 204) throw new Error(`revoking → ${res.statusCode}`)
  return {
    ctx,
    orgA,
    orgB,
    keys: {
      none: undefined,
      bad: undefined,
      revoked: revoked!.secret,
      admin: ADMIN_SECRET,
      finance: finance!.secret,
      owner: owner!.secret,
      stranger: stranger!.secret,
    },
  }
}

const ctx = await buildTestApp(t, { now: FIXED_NOW })
const world = await setUp(ctx)
const routes = routesOf(ctx.app)
const key = (r: Route) => `${r.method} ${r.path}`
let cells = 0

t.test('the route table is read from the app and every route has an expectation', async (t) => {
  t.ok(routes.some((r) => key(r) === 'GET /healthz') && routes.length > 30, `${routes.length} routes read`)
  t.same(
    routes.filter((r) => !expectationOf(r)).map(key),
    [],
    'no route without an expectation (a new route needs its row in EXPECTED)',
  )
  t.same(
    Object.keys(EXPECTED).filter((k) => !routes.some((r) => key(r) === k)),
    [],
    'no expectation for a route that does not exist',
  )
  const documented = operations.map((op) => `${op.method} ${op.path.replace(/\{(\w+)\}/g, ':$1')}`)
  t.same(
    routes
      .filter((r) => r.path.startsWith('/v1') && r.method !== 'HEAD' && !documented.includes(key(r)))
      .map(key),
    [],
    'every /v1 route is in openapi/openapi.json (so the fuzz test reaches it)',
  )
})

t.test('every route × seven principals answers as the roles say', async (t) => {
  for (const route of routes) {
    const expectation = expectationOf(route)
    if (!expectation) continue // reported above
    const expected: Record<string, number> = {}
    const actual: Record<string, number | string> = {}
    for (const who of PRINCIPALS) {
      const request = await expectation.request(world)
      const res = await ctx.app.inject({
        ...request,
        method: route.method as InjectOptions['method'],
        headers: { ...request.headers, ...authorization(world, who) },
      })
      cells++
      actual[who] = cellOutcome(res, route.method)
      const outcome = expectation.outcome
      expected[who] = !outcome
        ? (expectation.open ?? 200)
        : who === 'none' || who === 'bad' || who === 'revoked'
          ? 401
          : outcome[who]
    }
    t.same(actual, expected, key(route))
  }
})

/** Methods a client might send to any known path. */
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/** Whether a route of this method matches the URL (GET /v1/purchases/batch is GET /v1/purchases/:id). */
const routedAs = (method: string, url: string) =>
  routes.some((r) => r.method === method && new RegExp(`^${r.path.replace(/:\w+/g, '[^/]+')}$`).test(url))

t.test('a known path with a method it does not route: 405 problem+json', async (t) => {
  for (const path of new Set(routes.filter((r) => !r.path.startsWith('/docs')).map((r) => r.path))) {
    const url = path.replace(/:year/g, '2024').replace(/:\w+/g, world.orgA)
    for (const method of METHODS.filter((m) => !routedAs(m, url))) {
      const answers = new Set<number | string>()
      for (const who of PRINCIPALS) {
        const res = await ctx.app.inject({ method, url, headers: authorization(world, who), payload: {} })
        cells++
        answers.add(cellOutcome(res, method))
      }
      // A path the router knows, with a method it does not route: 405 for everyone (no route, no auth).
      t.same([...answers], [405], `${method} ${path}: ${[...answers].join(', ')}`)
    }
  }
})

t.test('cell count', async (t) => {
  t.comment(
    `authorization matrix: ${routes.length} routes × ${PRINCIPALS.length} principals; ${cells} cells in all`,
  )
  t.ok(cells > routes.length * PRINCIPALS.length - 1)
})
