/**
 * Requests through app.inject. The `post*` / `get*` / `list*Page` helpers return the raw response, for tests
 * that assert on status codes and problems; the others expect success, throw with the body otherwise, and
 * return the parsed body typed with the service's own response types.
 */
import type { LightMyRequestResponse } from 'fastify'
import type { Purchase, PurchaseInput } from './factories.js'
import { purchaseInput } from './factories.js'
import type { Auth, TestApp } from './helper.js'

/** A query string ("a=1&b=2") or its parameters. */
export type Query = string | Record<string, string | number>

type Headers = Record<string, string>

export const idem = (key: string): Headers => ({ 'idempotency-key': key })

const search = (query: Query) =>
  new URLSearchParams(
    typeof query === 'string' ? query : Object.entries(query).map(([k, v]) => [k, String(v)]),
  ).toString()

/** The parsed body of a response with this status; throws with the answer otherwise. */
function expectStatus<T>(res: LightMyRequestResponse, status: number, what: string): T {
  if (res.statusCode !== status) throw new Error(`${what} → ${res.statusCode}: ${res.body.slice(0, 500)}`)
  return res.json() as T
}

// ---- raw requests ----

export function postPurchase(
  ctx: TestApp,
  auth: Auth,
  payload: unknown,
  headers: Headers = {},
): Promise<LightMyRequestResponse> {
  return ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases',
    headers: { ...auth, ...headers },
    payload: payload as Record<string, unknown>,
  })
}

export function postBatch(
  ctx: TestApp,
  auth: Auth,
  items: unknown[],
  opts: { dryRun?: boolean; headers?: Headers } = {},
): Promise<LightMyRequestResponse> {
  return ctx.app.inject({
    method: 'POST',
    url: `/v1/purchases/batch${opts.dryRun ? '?dry_run=true' : ''}`,
    headers: { ...auth, ...opts.headers },
    payload: { items },
  })
}

/** POST /v1/purchases/import with a text/csv body; `query` is appended as is ("?dry_run=true"). */
export function postCsv(
  ctx: TestApp,
  auth: Auth,
  body: string | Buffer,
  query = '',
  headers: Headers = {},
): Promise<LightMyRequestResponse> {
  return ctx.app.inject({
    method: 'POST',
    url: `/v1/purchases/import${query}`,
    headers: { ...auth, 'content-type': 'text/csv', ...headers },
    payload: body,
  })
}

export function postVoid(
  ctx: TestApp,
  auth: Auth,
  id: string,
  reason = 'entered twice',
  headers: Headers = {},
): Promise<LightMyRequestResponse> {
  return ctx.app.inject({
    method: 'POST',
    url: `/v1/purchases/${id}/void`,
    headers: { ...auth, ...headers },
    payload: { reason },
  })
}

export function getPurchase(ctx: TestApp, auth: Auth, id: string): Promise<LightMyRequestResponse> {
  return ctx.app.inject({ method: 'GET', url: `/v1/purchases/${id}`, headers: auth })
}

/** One page of GET /v1/purchases. */
export function listPurchases(ctx: TestApp, auth: Auth, query: Query): Promise<LightMyRequestResponse> {
  const qs = search(query)
  return ctx.app.inject({ method: 'GET', url: `/v1/purchases${qs ? `?${qs}` : ''}`, headers: auth })
}

// ---- typed: expect success ----

/** Creates one purchase (valid defaults, overridden by `input`) through POST /v1/purchases. */
export async function createPurchase(
  ctx: TestApp,
  auth: Auth,
  input: Partial<PurchaseInput> = {},
  headers: Headers = {},
): Promise<Purchase> {
  return expectStatus(await postPurchase(ctx, auth, purchaseInput(input), headers), 201, 'POST /v1/purchases')
}

/** Creates purchases through POST /v1/purchases/batch, 1000 per request; the records in input order. */
export async function createPurchases(
  ctx: TestApp,
  auth: Auth,
  inputs: Partial<PurchaseInput>[],
): Promise<Purchase[]> {
  const out: Purchase[] = []
  for (let i = 0; i < inputs.length; i += 1000) {
    const res = await postBatch(ctx, auth, inputs.slice(i, i + 1000).map(purchaseInput))
    out.push(...expectStatus<{ items: Purchase[] }>(res, 201, 'POST /v1/purchases/batch').items)
  }
  return out
}

/** One hand-worked record: who enters it, channel, amount, occurred_on, and the county (530502 if absent). */
export type Entry = [
  who: { auth: Auth },
  channel: PurchaseInput['channel'],
  amount: string,
  occurredOn: string,
  regionCode?: string,
]

/** Creates each entry through POST /v1/purchases, one request at a time, in order; the records. */
export async function createEach(ctx: TestApp, entries: Entry[]): Promise<Purchase[]> {
  const out: Purchase[] = []
  for (const [who, channel, amount, occurred_on, region_code = '530502'] of entries) {
    out.push(await createPurchase(ctx, who.auth, { channel, amount, occurred_on, region_code }))
  }
  return out
}

export async function voidPurchase(
  ctx: TestApp,
  auth: Auth,
  id: string,
  reason = 'test correction',
): Promise<Purchase> {
  return expectStatus(await postVoid(ctx, auth, id, reason), 200, `void ${id}`)
}

/** Every record a list query shows, following next_cursor to the end (500 a page unless `limit` is given). */
export async function listAll(ctx: TestApp, auth: Auth, query: Query = ''): Promise<Purchase[]> {
  const params = new URLSearchParams(search(query))
  if (!params.has('limit')) params.set('limit', '500')
  const out: Purchase[] = []
  for (let pages = 0; pages < 10_000; pages++) {
    const res = await listPurchases(ctx, auth, params.toString())
    const page = expectStatus<{ items: Purchase[]; next_cursor: string | null }>(
      res,
      200,
      'GET /v1/purchases',
    )
    out.push(...page.items)
    if (!page.next_cursor) return out
    params.set('cursor', page.next_cursor)
  }
  throw new Error('list did not end')
}

/** GET `url` (admin by default) expecting 200; the parsed body. */
export async function getOk<T = Record<string, unknown>>(
  ctx: TestApp,
  url: string,
  auth: Auth = ctx.adminAuth,
): Promise<T> {
  return expectStatus(await ctx.app.inject({ method: 'GET', url, headers: auth }), 200, `GET ${url}`)
}

/** PUT /v1/targets/{year} as admin. */
export async function putTargets(ctx: TestApp, year: number, targets: unknown[]): Promise<void> {
  const res = await ctx.app.inject({
    method: 'PUT',
    url: `/v1/targets/${year}`,
    headers: ctx.adminAuth,
    payload: { targets },
  })
  expectStatus(res, 200, `PUT /v1/targets/${year}`)
}

/** PUT /v1/canteen-budgets/{year}/{org} as admin. */
export async function putBudget(ctx: TestApp, year: number, orgId: string, canteenTotal: string) {
  const res = await ctx.app.inject({
    method: 'PUT',
    url: `/v1/canteen-budgets/${year}/${orgId}`,
    headers: ctx.adminAuth,
    payload: { canteen_total: canteenTotal },
  })
  expectStatus(res, 200, `PUT /v1/canteen-budgets/${year}/${orgId}`)
}
