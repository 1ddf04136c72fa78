/**
 * What must hold for every answer (per the OpenAPI document and the contract), and the database state a
 * rejected write must leave as it was.
 */
import { sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { queryRows } from '../../src/db/client.js'
import type { TestApp } from '../helper.js'
import type { Draft } from './generators.js'
import { PROBLEM_CODES, validatorOf } from './openapi-doc.js'
import { UNAUTHENTICATED } from './world.js'

const problemValidator = validatorOf({ $ref: '#/components/schemas/Problem' })
const LEAK = /\bat .+:\d+:\d+|node_modules|\bselect\b.+\bfrom\b|insert into|SQLSTATE|syntax error/i

/** Statuses the router may give before any route runs, for a request whose path or method was changed. */
const ROUTER_STATUSES = [400, 404, 405, 414]

/** The base media type of a Content-Type header value. */
const mediaType = (header: unknown) =>
  String(header ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase()

const issuesOf = (result: {
  success: boolean
  error?: { issues: { path: PropertyKey[]; message: string }[] }
}) =>
  (result.error?.issues ?? [])
    .slice(0, 3)
    .map((i) => `${i.path.join('/')}: ${i.message}`)
    .join('; ')

/** The checks an error answer passes: problem+json, the Problem schema, a code documented for its status. */
function problemViolations(d: Draft, res: LightMyRequestResponse, count: () => void): string[] {
  const out: string[] = []
  count()
  if (mediaType(res.headers['content-type']) !== 'application/problem+json') {
    return [
      `${res.statusCode} is not problem+json (${res.headers['content-type']}): ${res.body.slice(0, 120)}`,
    ]
  }
  let body: Record<string, unknown>
  try {
    body = JSON.parse(res.body)
  } catch {
    return [`${res.statusCode} problem body is not JSON`]
  }
  count()
  const parsed = problemValidator.safeParse(body)
  if (!parsed.success) out.push(`problem does not match the Problem schema: ${issuesOf(parsed)}`)
  count()
  if (body.status !== res.statusCode) out.push(`problem status ${body.status} ≠ HTTP ${res.statusCode}`)
  if (body.type !== `urn:problem-type:${body.code}`)
    out.push(`problem type ${body.type} does not match its code`)
  count()
  const documented = d.op.responses.get(res.statusCode)?.codes ?? []
  const allowed = documented.length > 0 ? documented : PROBLEM_CODES
  if (!allowed.includes(String(body.code))) {
    out.push(`code ${body.code} not documented for ${res.statusCode} (documented: ${allowed.join(', ')})`)
  }
  count()
  if (LEAK.test(res.body)) out.push(`problem leaks internals: ${res.body.slice(0, 200)}`)
  return out
}

/** The checks a 2xx answer passes: a documented content type, and a JSON body that matches its schema. */
function successViolations(d: Draft, res: LightMyRequestResponse, count: () => void): string[] {
  const documented = d.op.responses.get(res.statusCode)!
  count()
  if (documented.content.size === 0) {
    return res.rawPayload.length === 0 ? [] : [`${res.statusCode} documented without content has a body`]
  }
  const type = mediaType(res.headers['content-type'])
  if (!documented.content.has(type)) {
    return [
      `${res.statusCode} content type ${type} not documented (${[...documented.content.keys()].join(', ')})`,
    ]
  }
  count()
  const validator = documented.content.get(type)
  if (validator === null || validator === undefined) {
    if (type.includes('spreadsheetml')) {
      return res.rawPayload.subarray(0, 2).toString('latin1') === 'PK' ? [] : ['XLSX body is not a zip']
    }
    return res.rawPayload.length > 0 ? [] : [`empty ${type} body`]
  }
  let body: unknown
  try {
    body = JSON.parse(res.body)
  } catch {
    return [`${res.statusCode} body is not JSON`]
  }
  const parsed = validator.safeParse(body)
  return parsed.success ? [] : [`${res.statusCode} body does not match its schema: ${issuesOf(parsed)}`]
}

/**
 * Every violation of the invariants by one answer: never a 5xx; a documented status (or a router status when
 * the path or method was changed); the principal's outcome (401 exactly for a missing, bad or revoked key;
 * never 401 for a valid one); then the problem or success checks. `count` is called once per check.
 */
export function responseViolations(d: Draft, res: LightMyRequestResponse, count: () => void): string[] {
  const status = res.statusCode
  count()
  if (status >= 500) return [`${status} ${res.body.slice(0, 200)}`]
  const rerouted = d.mutations.some((m) => m === 'method' || m.startsWith('path.'))
  count()
  if (!d.op.responses.has(status) && !(rerouted && ROUTER_STATUSES.includes(status))) {
    return [`undocumented status ${status}: ${res.body.slice(0, 200)}`]
  }
  count()
  const unauthenticated = d.op.secured && UNAUTHENTICATED.includes(d.principal)
  if (unauthenticated && status !== 401 && !rerouted)
    return [`${d.principal} key answered ${status}, not 401`]
  if (!unauthenticated && d.op.secured && status === 401) return [`a valid ${d.principal} key answered 401`]
  if (status >= 400) return problemViolations(d, res, count)
  if (status >= 200 && status < 300) return successViolations(d, res, count)
  return [`unexpected status ${status}`]
}

/**
 * What a rejected write must not change, read in one statement: row counts of every table, the active and
 * voided purchase sums, the rollups' sums, and digests of the rows a write may update in place.
 */
export type DatabaseState = Record<string, string>

export async function databaseState(ctx: TestApp): Promise<DatabaseState> {
  const [row] = await queryRows<Record<string, unknown>>(
    ctx.database.db,
    sql`select
      (select count(*) from purchases) as purchases,
      (select count(*) || ':' || coalesce(sum(amount_fen), 0) from purchases where status = 'voided') as voided,
      (select coalesce(sum(amount_fen), 0) from purchases where status = 'active') as active_fen,
      (select coalesce(sum(total_fen), 0) || ':' || coalesce(sum(count), 0) from purchase_totals) as rollup,
      (select coalesce(sum(total_fen), 0) || ':' || coalesce(sum(count), 0) from purchase_year_totals) as year_rollup,
      (select coalesce(sum(total_fen), 0) || ':' || coalesce(sum(count), 0) from canteen_year_totals) as canteen_rollup,
      (select count(*) from audit_log) as audit,
      (select count(*) from idempotency_keys) as idempotency,
      (select md5(coalesce(string_agg(o::text, '|' order by o.id), '')) from orgs o) as orgs,
      (select md5(coalesce(string_agg(r::text, '|' order by r.code), '')) from regions r) as regions,
      (select md5(coalesce(string_agg(k.id || ':' || coalesce(k.revoked_at::text, ''), '|' order by k.id), ''))
         from api_keys k) as api_keys,
      (select md5(coalesce(string_agg(t::text, '|' order by t.year, t.channel), '')) from targets t) as targets,
      (select md5(coalesce(string_agg(b::text, '|' order by b.year, b.org_id), '')) from canteen_budgets b)
         as canteen_budgets`,
  )
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, String(v)]))
}

/** The years the fuzz records fall in. */
export const YEARS = [2024, 2025, 2026]

/** GET /v1/totals of every year as admin, without the time it was computed. */
export async function totalsAnswer(ctx: TestApp): Promise<string> {
  const answers: unknown[] = []
  for (const year of YEARS) {
    const res = await ctx.app.inject({ url: `/v1/totals?year=${year}`, headers: ctx.adminAuth })
    const { computed_at: _, ...rest } = res.json() as Record<string, unknown>
    answers.push([res.statusCode, rest])
  }
  return JSON.stringify(answers)
}
