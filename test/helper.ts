/**
 * The test app on a fresh database, reads of that database for assertions, and the one problem+json
 * assertion. Fixtures are in factories.ts, typed requests in api.ts.
 */
import { randomBytes } from 'node:crypto'
import { type SQL, sql } from 'drizzle-orm'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import type { Test } from 'tap'
import { buildApp } from '../src/app.js'
import { type Config, loadConfig } from '../src/config.js'
import { type Database, openDatabase, queryRows } from '../src/db/client.js'

export const ADMIN_SECRET = 'test-admin-secret-0123456789'

export type Auth = { authorization: string }

export const bearer = (secret: string): Auth => ({ authorization: `Bearer ${secret}` })

/**
 * A fresh database for one test file: in-memory PGlite by default; with DATABASE_URL set, a new PostgreSQL
 * database created on that server (named after the URL's database) and dropped when the file ends.
 */
export async function freshDatabase(t: Test): Promise<{ database: Database; url?: string }> {
  const base = process.env.DATABASE_URL
  if (!base) {
    const database = openDatabase({})
    // A test may have closed it already (readiness, outage tests).
    t.teardown(() => database.close().catch(() => {}))
    return { database }
  }
  const url = new URL(base)
  const name = `${url.pathname.slice(1) || 'test'}_t${randomBytes(5).toString('hex')}`.toLowerCase()
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`create database "${name}"`)
  await admin.end()
  url.pathname = `/${name}`
  const database = openDatabase({ databaseUrl: url.toString(), poolMax: 10 })
  t.teardown(async () => {
    await database.close().catch(() => {})
    const c = new pg.Client({ connectionString: base })
    await c.connect()
    await c.query(`drop database if exists "${name}" with (force)`)
    await c.end()
  })
  return { database, url: url.toString() }
}

export interface TestApp {
  app: FastifyInstance
  database: Database
  config: Config
  adminAuth: Auth
}

export async function buildTestApp(
  t: Test,
  opts: {
    env?: Record<string, string>
    now?: () => Date
    /** An open database to build on (e.g. a second app on the same one); a fresh one otherwise. */
    database?: Database
  } = {},
): Promise<TestApp> {
  const database = opts.database ?? (await freshDatabase(t)).database
  const config = loadConfig({
    ADMIN_API_KEY: ADMIN_SECRET,
    RATE_LIMIT_PER_MINUTE: '0',
    AUTH_FAILURES_PER_MINUTE: '0',
    ...opts.env,
  })
  const app = await buildApp({ config, database, now: opts.now })
  t.teardown(() => app.close())
  return { app, database, config, adminAuth: bearer(ADMIN_SECRET) }
}

/** A fixed clock: 2026-03-15 10:00 in Asia/Shanghai. */
export const FIXED_NOW = () => new Date('2026-03-15T02:00:00Z')

/** Rows of a query on the test database. */
const selectRows = <T>(ctx: TestApp, query: SQL) => queryRows<T>(ctx.database.db, query)

/** `select count(*) from <table> where <where>` on the test database. */
export async function countRows(ctx: TestApp, where: SQL = sql`true`, table = 'purchases'): Promise<number> {
  const [row] = await selectRows<{ n: string | number }>(
    ctx,
    sql`select count(*) as n from ${sql.identifier(table)} where ${where}`,
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

export async function auditRows(ctx: TestApp, where: SQL): Promise<AuditRow[]> {
  const found = await selectRows<AuditRow>(
    ctx,
    sql`select id::text as id, actor_key_id, action, entity, entity_id, before, after
          from audit_log where ${where} order by id`,
  )
  // pg returns jsonb parsed; PGlite does too, but be tolerant of a string.
  return found.map((r) => ({
    ...r,
    before: typeof r.before === 'string' ? JSON.parse(r.before) : r.before,
    after: typeof r.after === 'string' ? JSON.parse(r.after) : r.after,
  }))
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  errors?: { path: string; message: string }[]
  existing_id?: string
}

/** Every member a problem may carry (RFC 9457 core, our `code` and `errors`, the `existing_id` extension). */
const PROBLEM_MEMBERS = ['type', 'title', 'status', 'detail', 'code', 'errors', 'existing_id']
const LEAK = /\bat .+:\d+:\d+|\bat .+\.(ts|js):\d+|node_modules|\bselect\b.+\bfrom\b|select |insert into/i

/**
 * Asserts an RFC 9457 answer: this status and code, problem+json, every member of the right type and no
 * other, errors[] entries of exactly { path, message }, no stack or SQL; with `paths`, errors[].path is
 * exactly these (order-insensitive; name a path twice if it carries two messages). Returns the body.
 */
export function assertProblem(
  t: Test,
  res: LightMyRequestResponse,
  status: number,
  code: string,
  paths?: string[],
): Problem {
  t.equal(res.statusCode, status, `status ${status} ${code}: ${res.body.slice(0, 300)}`)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'problem+json content type')
  const body = res.json() as Problem
  t.same(
    Object.keys(body).filter((k) => !PROBLEM_MEMBERS.includes(k)),
    [],
    'no members beyond the problem schema',
  )
  t.match(
    body,
    { type: `urn:problem-type:${code}`, title: /\S/, status, detail: /\S/, code },
    `problem members of ${code}`,
  )
  const errors = body.errors ?? []
  t.ok(
    (body.errors === undefined || errors.length > 0) &&
      errors.every(
        (e) =>
          Object.keys(e).sort().join() === 'message,path' &&
          typeof e.path === 'string' &&
          typeof e.message === 'string' &&
          e.message.length > 0,
      ),
    'errors[] (when present) is non-empty, each { path, message } with a message',
  )
  if (body.existing_id !== undefined) t.type(body.existing_id, 'string', 'existing_id')
  if (paths)
    t.same(errors.map((e) => e.path).sort(), [...paths].sort(), `errors[].path = ${paths.join(', ')}`)
  t.notMatch(res.body, LEAK, 'no stack or SQL')
  return body
}
