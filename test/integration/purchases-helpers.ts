/** Shared bits of the purchases test files (not a test file itself: tap only runs `*.test.ts`). */
import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { queryRows } from '../../src/db/client.js'
import { creditCodeCheckChar } from '../../src/modules/purchases/credit-code.js'
import type { PurchaseOut } from '../../src/modules/purchases/purchases.schemas.js'
import type { Problem, TestApp } from '../helper.js'

export type Auth = { authorization: string }

/** A purchase as the API returns it: the service's own response type. */
export type Purchase = PurchaseOut

export { CHANNELS } from '../../src/schemas.js'
export type { Problem }
export const REGIONS = ['530502', '530521', '530523', '530524', '530623', '530626', '653124'] as const

/** A short unique string, for vouchers and external refs that must not clash across tests. */
export const uniq = (prefix = 'v') => `${prefix}-${randomBytes(8).toString('hex')}`

/** A valid create body; every call gets a fresh voucher number. */
export function purchaseBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    channel: 'wholesale',
    amount: '125000.50',
    occurred_on: '2024-05-20',
    region_code: '530502',
    supplier: '保山市某某农业开发有限公司',
    product: '小粒咖啡 200 箱',
    voucher_no: uniq('voucher'),
    ...overrides,
  }
}

/** A valid 18-character credit code built from 17 characters and the computed check character. */
export function validCreditCode(first17 = '91530500MA6K1234X'): string {
  const check = creditCodeCheckChar(first17)
  if (check === null) throw new Error(`bad credit code prefix ${first17}`)
  return first17 + check
}

export function postPurchase(
  ctx: TestApp,
  auth: Auth,
  payload: unknown,
  headers: Record<string, string> = {},
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
  opts: { dryRun?: boolean; headers?: Record<string, string> } = {},
): Promise<LightMyRequestResponse> {
  return ctx.app.inject({
    method: 'POST',
    url: `/v1/purchases/batch${opts.dryRun ? '?dry_run=true' : ''}`,
    headers: { ...auth, ...opts.headers },
    payload: { items },
  })
}

export function voidPurchase(
  ctx: TestApp,
  auth: Auth,
  id: string,
  reason = 'entered twice',
  headers: Record<string, string> = {},
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

export function listPurchases(
  ctx: TestApp,
  auth: Auth,
  query: Record<string, string | number>,
): Promise<LightMyRequestResponse> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString()
  return ctx.app.inject({ method: 'GET', url: `/v1/purchases${qs ? `?${qs}` : ''}`, headers: auth })
}

/** Every row of a list query, following next_cursor to the end. */
export async function listAll(
  ctx: TestApp,
  auth: Auth,
  query: Record<string, string | number>,
): Promise<Purchase[]> {
  const out: Purchase[] = []
  let cursor: string | null = null
  for (let pages = 0; pages < 10_000; pages++) {
    const res = await listPurchases(ctx, auth, cursor ? { ...query, cursor } : query)
    if (res.statusCode !== 200) throw new Error(`list failed: ${res.statusCode} ${res.body}`)
    const page = res.json() as { items: Purchase[]; next_cursor: string | null }
    out.push(...page.items)
    cursor = page.next_cursor
    if (!cursor) return out
  }
  throw new Error('list did not end')
}

/** Asserts a problem+json response with the given status and code; returns the body. */
export function expectProblem(t: Test, res: LightMyRequestResponse, status: number, code: string): Problem {
  t.equal(res.statusCode, status, `status ${status} (${res.body.slice(0, 300)})`)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'problem+json')
  const body = res.json() as Problem
  t.equal(body.code, code, `code ${code}`)
  t.equal(body.status, status, 'status member matches')
  t.type(body.title, 'string')
  t.type(body.detail, 'string')
  t.notMatch(res.body, /\bat .+\.(ts|js):\d+|select |insert into/i, 'no stack trace or SQL')
  return body
}

/**
 * Asserts a 400 validation_failed problem whose errors[] paths are exactly `paths` (as a set; a path may
 * carry several messages).
 */
export function expectValidation(t: Test, res: LightMyRequestResponse, paths: string[]): Problem {
  const body = expectProblem(t, res, 400, 'validation_failed')
  const got = [...new Set((body.errors ?? []).map((e) => e.path))].sort()
  t.same(got, [...new Set(paths)].sort(), `errors[].path = ${paths.join(', ')}`)
  for (const e of body.errors ?? []) t.ok(e.message.length > 0, `message for ${e.path}`)
  return body
}

export async function countRows(ctx: TestApp, where: ReturnType<typeof sql>): Promise<number> {
  const [row] = await queryRows<{ n: string | number }>(
    ctx.database.db,
    sql`select count(*) as n from purchases where ${where}`,
  )
  return Number(row?.n ?? 0)
}

export interface AuditRow {
  id: string
  actor_key_id: string | null
  action: string
  entity: string
  entity_id: string
  before: unknown
  after: unknown
}

export async function auditRows(ctx: TestApp, where: ReturnType<typeof sql>): Promise<AuditRow[]> {
  const rows = await queryRows<AuditRow>(
    ctx.database.db,
    sql`select id::text as id, actor_key_id, action, entity, entity_id, before, after
          from audit_log where ${where} order by id`,
  )
  // pg returns jsonb parsed; PGlite does too, but be tolerant of a string.
  return rows.map((r) => ({
    ...r,
    before: typeof r.before === 'string' ? JSON.parse(r.before) : r.before,
    after: typeof r.after === 'string' ? JSON.parse(r.after) : r.after,
  }))
}
