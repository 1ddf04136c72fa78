/** Shared bits of the import/export test files (not a test file itself: tap only runs `*.test.ts`). */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import type { PurchaseOut } from '../../src/modules/purchases/purchases.schemas.js'
import type { Problem, TestApp } from '../helper.js'

export type Auth = { authorization: string }

export type { Problem }

/** A purchase as the API returns it: the service's own response type. */
export type Purchase = PurchaseOut

export const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url))

/** A voucher number no other test uses. */
export const uniq = (prefix = 'V') => `${prefix}-${randomBytes(6).toString('hex')}`

export function postCsv(
  ctx: TestApp,
  auth: Auth,
  body: string | Buffer,
  query = '',
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return ctx.app.inject({
    method: 'POST',
    url: `/v1/purchases/import${query}`,
    headers: { ...auth, 'content-type': 'text/csv', ...headers },
    payload: body,
  })
}

/** A CSV with CRLF line ends from rows of cells (cells are written as given: quote them yourself). */
export const csv = (...rows: string[]) => `${rows.join('\r\n')}\r\n`

/** Asserts a problem+json answer with this status and code, and returns its body. */
export function expectProblem(t: Test, res: LightMyRequestResponse, status: number, code: string): Problem {
  t.equal(res.statusCode, status, `status ${status} ${code}: ${res.body.slice(0, 300)}`)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  const body = res.json() as Problem
  t.equal(body.code, code)
  return body
}

/** Asserts a 400 whose error paths are exactly these (order-insensitive), and returns the errors. */
export function expectPaths(t: Test, res: LightMyRequestResponse, paths: string[]) {
  const body = expectProblem(t, res, 400, 'validation_failed')
  t.same(
    (body.errors ?? []).map((e) => e.path).sort(),
    [...paths].sort(),
    `error paths ${JSON.stringify(body.errors)}`,
  )
  return body.errors ?? []
}

/** Every record the list endpoint shows for these filters, walking all pages. */
export async function listAll(ctx: TestApp, auth: Auth, query: string): Promise<Purchase[]> {
  const out: Purchase[] = []
  let cursor: string | null = null
  do {
    const res = await ctx.app.inject({
      url: `/v1/purchases?limit=500&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      headers: auth,
    })
    if (res.statusCode !== 200) throw new Error(`list failed: ${res.statusCode} ${res.body}`)
    const page = res.json() as { items: Purchase[]; next_cursor: string | null }
    out.push(...page.items)
    cursor = page.next_cursor
  } while (cursor)
  return out
}

/** Exact sum of money strings, in fen. */
export const sumFen = (amounts: string[]) =>
  amounts.reduce((s, a) => {
    const [y, f = ''] = a.split('.')
    return s + BigInt(y!) * 100n + BigInt(f.padEnd(2, '0'))
  }, 0n)

export const yuan = (fen: bigint) => `${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`

/** { channel: "sum" } over records. */
export function sumsByChannel(records: Pick<Purchase, 'channel' | 'amount'>[]): Record<string, string> {
  const by = new Map<string, string[]>()
  for (const r of records) by.set(r.channel, [...(by.get(r.channel) ?? []), r.amount])
  return Object.fromEntries([...by].sort().map(([c, a]) => [c, yuan(sumFen(a))]))
}
