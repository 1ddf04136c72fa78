/**
 * What the fuzz test knows of the database while it runs: the principals, and pools of real ids (orgs,
 * purchases by org, regions, keys it may revoke, cursors, idempotency keys) that grow from the answers.
 * Generated requests hold `Pick`s and `Huge`s; `resolve` turns them into values when the request is sent, so
 * a request made up front can still name a record created a moment ago.
 */
import { bearer } from '../helper.js'

/** admin, finance, the reporter of org A ("owner"), the reporter of org B ("stranger"), and three with no valid key. */
export type PrincipalName = 'admin' | 'finance' | 'owner' | 'stranger' | 'none' | 'bad' | 'revoked'

export const UNAUTHENTICATED: readonly PrincipalName[] = ['none', 'bad', 'revoked']

type PickKind = 'org' | 'purchase' | 'victimKey' | 'region' | 'cursor' | 'forgedCursor' | 'idemKey' | 'anyId'

/** A value taken from the world's pools when the request is sent; `n` chooses which. */
export class Pick {
  constructor(
    readonly kind: PickKind,
    readonly n: number,
  ) {}
}

/** A long string, built when sent (so thousands of generated requests do not hold megabytes). */
export class Huge {
  constructor(
    readonly length: number,
    readonly unit: string,
  ) {}
  toString() {
    return this.unit.repeat(Math.ceil(this.length / this.unit.length)).slice(0, this.length)
  }
}

/** An array of `count` copies of one value, built when sent (a batch over its item limit). */
export class Many {
  constructor(
    readonly count: number,
    readonly item: unknown,
  ) {}
}

export interface WorldSetup {
  orgA: string
  orgB: string
  secrets: { admin: string; finance: string; owner: string; stranger: string; revoked: string }
  regions: string[]
  purchases: { id: string; orgId: string }[]
  victimKeys: string[]
}

const BAD_AUTHORIZATION = [
  'Bearer mhk_0000000000000000000000000000000000000000',
  'Bearer ',
  'Basic YWRtaW46YWRtaW4=',
  'bearer',
  'Bearer a b',
  `Bearer ${'k'.repeat(4096)}`,
  'Bearer 密钥',
  'Bearer \u0000',
  'Bearer ../../etc/passwd',
  "Bearer ' or 1=1 --",
]

/** A JSON-like object (fast-check's records may have a null prototype), not a Pick, Huge or other class. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** A cursor's shape (base64url JSON of the position `p` and the filters' digest `f`) with no real rows. */
const FALLBACK_CURSOR = Buffer.from(JSON.stringify({ p: ['2024-01-01', 'x'], f: 'x' })).toString('base64url')

/** Position values a forged cursor may carry: out of range, of the wrong type, odd text. */
const FORGED_POSITIONS: unknown[] = [
  2 ** 63,
  -1,
  1e308,
  2 ** 53 + 2,
  1.5,
  32768,
  -2147483649,
  '99999-01-01',
  '2024-13-45',
  '0000-00-00',
  '\u0000',
  '\uD800',
  'not-a-uuid',
  '',
  'x'.repeat(1000),
  null,
  [],
  { a: 1 },
  true,
]

/** A cursor with one position value replaced, or one value too many (chosen by `n`), re-encoded as a client could. */
function forge(cursor: string, n: number): string {
  let parsed: { p?: unknown[]; f?: unknown }
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    return cursor
  }
  const p = Array.isArray(parsed.p) ? [...parsed.p] : []
  const slot = n % 4
  if (slot === 3) p.push(1)
  else p[n % Math.max(p.length, 1)] = FORGED_POSITIONS[Math.floor(n / 4) % FORGED_POSITIONS.length]
  return Buffer.from(JSON.stringify({ ...parsed, p })).toString('base64url')
}

export class World {
  readonly orgs: string[]
  readonly regions: string[]
  readonly purchases: { id: string; orgId: string }[]
  readonly victimKeys: string[]
  readonly cursors: string[] = []
  readonly idemKeys: string[] = []
  private idemCounter = 0

  constructor(readonly setup: WorldSetup) {
    this.orgs = [setup.orgA, setup.orgB]
    this.regions = [...setup.regions]
    this.purchases = [...setup.purchases]
    this.victimKeys = [...setup.victimKeys]
  }

  /** The Authorization header of a principal; `n` picks one of the bad ones. */
  authorization(principal: PrincipalName, n: number): string | undefined {
    if (principal === 'none') return undefined
    if (principal === 'bad') return BAD_AUTHORIZATION[n % BAD_AUTHORIZATION.length]
    return bearer(this.setup.secrets[principal]).authorization
  }

  /** The org of a reporter principal. */
  ownOrg(principal: PrincipalName): string | undefined {
    if (principal === 'owner') return this.setup.orgA
    if (principal === 'stranger') return this.setup.orgB
    return undefined
  }

  private at<T>(list: readonly T[], n: number, fallback: T): T {
    return list.length === 0 ? fallback : list[n % list.length]!
  }

  /**
   * Org and purchase picks lean on org A (the "owning" org: its reporter is the owner, B's is the stranger),
   * then the principal's own org, then anything known.
   */
  private pick(p: Pick, principal: PrincipalName): string | undefined {
    const slot = p.n % 4
    const q = Math.floor(p.n / 4)
    switch (p.kind) {
      case 'org':
        if (slot < 2) return this.setup.orgA
        if (slot === 2) return this.ownOrg(principal) ?? this.setup.orgB
        return this.at(this.orgs, q, this.setup.orgA)
      case 'purchase': {
        const org = slot < 2 ? this.setup.orgA : slot === 2 ? this.ownOrg(principal) : undefined
        const mine = org ? this.purchases.filter((x) => x.orgId === org) : this.purchases
        return this.at(mine, q, { id: '00000000-0000-0000-0000-000000000000', orgId: '' }).id
      }
      case 'victimKey':
        return this.at(this.victimKeys, p.n, '00000000-0000-0000-0000-000000000000')
      case 'region':
        return this.at(this.regions, p.n, '530502')
      case 'cursor':
        // Mostly no cursor (the first page); else one from an earlier answer (of this list or another).
        return slot === 0 ? this.at(this.cursors, q, undefined) : undefined
      case 'forgedCursor':
        return forge(this.at(this.cursors, q, FALLBACK_CURSOR), p.n)
      case 'idemKey':
        // Two in three fresh, one in three reused (a replay or a 422, depending on the request).
        if (p.n % 3 !== 0 || this.idemKeys.length === 0) return `fz-${++this.idemCounter}-${p.n}`
        return this.at(this.idemKeys, q, 'fz-0')
      case 'anyId':
        return slot === 0
          ? this.pick(new Pick('org', q), principal)
          : slot === 1
            ? this.pick(new Pick('purchase', q), principal)
            : slot === 2
              ? this.at(this.victimKeys, q, 'x')
              : this.at(this.regions, q, '530502')
    }
  }

  /** The value with every Pick, Huge and Many replaced by what it stands for now. */
  resolve(value: unknown, principal: PrincipalName): unknown {
    if (value instanceof Pick) return this.pick(value, principal)
    if (value instanceof Huge) return value.toString()
    if (value instanceof Many)
      return Array.from({ length: value.count }, () => this.resolve(value.item, principal))
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, principal))
    if (isPlainObject(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v, principal)]))
    }
    return value
  }

  /** Learns ids from a successful answer: records, orgs, regions, new keys, cursors. */
  learn(opKey: string, body: unknown) {
    if (body === null || typeof body !== 'object') return
    const b = body as Record<string, unknown>
    if (typeof b.next_cursor === 'string' && this.cursors.length < 200) this.cursors.push(b.next_cursor)
    if (opKey === 'POST /v1/orgs' && typeof b.id === 'string') this.orgs.push(b.id)
    if (opKey === 'POST /v1/regions' && typeof b.code === 'string') this.regions.push(b.code)
    if (opKey === 'POST /v1/api-keys' && typeof b.id === 'string') this.victimKeys.push(b.id)
    const records = Array.isArray(b.items) ? b.items : [b]
    for (const r of records as Record<string, unknown>[]) {
      if (typeof r?.id === 'string' && typeof r.org_id === 'string' && typeof r.channel === 'string') {
        if (!this.purchases.some((p) => p.id === r.id)) this.purchases.push({ id: r.id, orgId: r.org_id })
      }
    }
  }

  /** Remembers an idempotency key that was sent (so a later request may reuse it). */
  sentIdempotencyKey(key: string) {
    if (this.idemKeys.length < 500 && !this.idemKeys.includes(key)) this.idemKeys.push(key)
  }
}
