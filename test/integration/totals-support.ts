/** Request helpers for the totals, canteen, targets and reports tests (not a test file itself). */
import type { TestApp } from '../helper.js'

export type Auth = { authorization: string }

export interface PurchaseInput {
  channel: string
  amount: string
  occurred_on: string
  region_code?: string
  org_id?: string
  supplier?: string
}

/** Creates one purchase through POST /v1/purchases and returns its id; fails loudly on anything but 201. */
export async function postPurchase(ctx: TestApp, auth: Auth, p: PurchaseInput): Promise<string> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/purchases',
    headers: auth,
    payload: { region_code: '530502', supplier: '保山市测试农业开发有限公司', ...p },
  })
  if (res.statusCode !== 201) throw new Error(`POST /v1/purchases → ${res.statusCode}: ${res.body}`)
  return (res.json() as { id: string }).id
}

/** Creates many purchases through POST /v1/purchases/batch (≤ 1000 per call); returns their ids in order. */
export async function postPurchases(ctx: TestApp, auth: Auth, items: PurchaseInput[]): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < items.length; i += 1000) {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/v1/purchases/batch',
      headers: auth,
      payload: {
        items: items
          .slice(i, i + 1000)
          .map((p) => ({ region_code: '530502', supplier: '保山市测试农业开发有限公司', ...p })),
      },
    })
    if (res.statusCode !== 201) throw new Error(`POST /v1/purchases/batch → ${res.statusCode}: ${res.body}`)
    ids.push(...(res.json() as { items: { id: string }[] }).items.map((x) => x.id))
  }
  return ids
}

export async function voidPurchase(ctx: TestApp, auth: Auth, id: string): Promise<void> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/v1/purchases/${id}/void`,
    headers: auth,
    payload: { reason: 'test correction' },
  })
  if (res.statusCode !== 200) throw new Error(`void → ${res.statusCode}: ${res.body}`)
}

export async function putTargets(ctx: TestApp, year: number, targets: unknown[]): Promise<void> {
  const res = await ctx.app.inject({
    method: 'PUT',
    url: `/v1/targets/${year}`,
    headers: ctx.adminAuth,
    payload: { targets },
  })
  if (res.statusCode !== 200) throw new Error(`PUT /v1/targets/${year} → ${res.statusCode}: ${res.body}`)
}

export async function putBudget(
  ctx: TestApp,
  year: number,
  orgId: string,
  canteenTotal: string,
): Promise<void> {
  const res = await ctx.app.inject({
    method: 'PUT',
    url: `/v1/canteen-budgets/${year}/${orgId}`,
    headers: ctx.adminAuth,
    payload: { canteen_total: canteenTotal },
  })
  if (res.statusCode !== 200) throw new Error(`PUT canteen budget → ${res.statusCode}: ${res.body}`)
}

export async function getJson<T = Record<string, unknown>>(
  ctx: TestApp,
  url: string,
  auth: Auth = ctx.adminAuth,
): Promise<T> {
  const res = await ctx.app.inject({ method: 'GET', url, headers: auth })
  if (res.statusCode !== 200) throw new Error(`GET ${url} → ${res.statusCode}: ${res.body}`)
  return res.json() as T
}

/** A fixed clock: 2026-03-15 10:00 in Asia/Shanghai. */
export const FIXED_NOW = () => new Date('2026-03-15T02:00:00Z')
