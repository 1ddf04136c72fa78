/**
 * Fixtures: orgs and API keys written straight through the services (each test makes its own, so tests never
 * collide on one shared database), valid purchase inputs, CSV files, and exact money arithmetic for expected
 * figures (written here, not taken from src/money.ts, so a rounding slip there cannot hide in both).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { z } from 'zod'
import { inTransaction } from '../src/db/client.js'
import { createApiKeysService } from '../src/modules/api-keys/api-keys.service.js'
import { createOrgsService } from '../src/modules/orgs/orgs.service.js'
import { creditCodeCheckChar } from '../src/modules/purchases/credit-code.js'
import type { createPurchaseBody, PurchaseOut } from '../src/modules/purchases/purchases.schemas.js'
import { type Auth, bearer, type TestApp } from './helper.js'

export { CHANNELS } from '../src/schemas.js'

/** A purchase as the API returns it: the service's own response type. */
export type Purchase = PurchaseOut
/** A valid create body, as a client sends it. */
export type PurchaseInput = z.input<typeof createPurchaseBody>

/** The registered counterpart counties, in code order. */
export const REGIONS = ['530502', '530521', '530523', '530524', '530623', '530626', '653124'] as const

/** A short string no other test uses (org names, vouchers, refs, idempotency keys). */
export const uniq = (prefix = 'v') => `${prefix}-${randomBytes(8).toString('hex')}`

// ---- orgs and keys ----

export type Role = 'admin' | 'finance' | 'reporter'

export interface Key {
  keyId: string
  secret: string
  auth: Auth
}

/** Creates an org directly through the service; returns its id. */
export async function createOrg(ctx: TestApp, kind = 'agency', name = uniq('org')): Promise<string> {
  const db = ctx.database.db
  const org = await inTransaction(db, (tx) =>
    createOrgsService({ db }).createIn(tx, null as unknown as string, { name, kind }),
  )
  return org.body.id
}

/** Creates a key of any role (a reporter names its org) directly through the service. */
export async function createKey(ctx: TestApp, role: Role, orgId?: string): Promise<Key> {
  const db = ctx.database.db
  const key = await inTransaction(db, (tx) =>
    createApiKeysService({ db }).createIn(tx, null, { name: role, role, org_id: orgId }),
  )
  return { keyId: key.body.id, secret: key.body.secret, auth: bearer(key.body.secret) }
}

/** A fresh org with a reporter key for it. */
export async function createOrgWithReporter(
  ctx: TestApp,
  kind = 'trade_union',
): Promise<{ orgId: string; auth: Auth; keyId: string }> {
  const orgId = await createOrg(ctx, kind)
  const { keyId, auth } = await createKey(ctx, 'reporter', orgId)
  return { orgId, auth, keyId }
}

// ---- purchases ----

/**
 * A valid create body with a fresh voucher number; `overrides` replace fields (with any value, valid or
 * not, for the rejection tests).
 */
export function purchaseInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
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

// ---- files ----

/** A committed file under test/fixtures. */
export const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url))

/** A CSV with CRLF line ends from rows of cells (cells are written as given: quote them yourself). */
export const csv = (...rows: string[]) => `${rows.join('\r\n')}\r\n`

// ---- money ----

/** Fen as a yuan string with two fraction digits. */
export const yuan = (fen: bigint) => `${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`

/** A yuan string ("12", "12.3", "12.34") as fen. */
export function fenOf(amount: string): bigint {
  const [y, f = ''] = amount.split('.')
  return BigInt(y!) * 100n + BigInt(f.padEnd(2, '0'))
}

/** Exact sum of money strings, in fen. */
export const sumFen = (amounts: string[]) => amounts.reduce((s, a) => s + fenOf(a), 0n)

/** { channel: "sum" } over records. */
export function sumsByChannel(records: Pick<Purchase, 'channel' | 'amount'>[]): Record<string, string> {
  const by = new Map<string, string[]>()
  for (const r of records) by.set(r.channel, [...(by.get(r.channel) ?? []), r.amount])
  return Object.fromEntries([...by].sort().map(([c, a]) => [c, yuan(sumFen(a))]))
}
