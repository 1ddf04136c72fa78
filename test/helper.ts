import { randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import type { Test } from 'tap'
import { buildApp } from '../src/app.js'
import { type Config, loadConfig } from '../src/config.js'
import { type Database, inTransaction, openDatabase } from '../src/db/client.js'
import { createApiKeysService } from '../src/modules/api-keys/api-keys.service.js'
import { createOrgsService } from '../src/modules/orgs/orgs.service.js'

export const ADMIN_SECRET = 'test-admin-secret-0123456789'

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
  adminAuth: { authorization: string }
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
  const config = loadConfig({ ADMIN_API_KEY: ADMIN_SECRET, RATE_LIMIT_PER_MINUTE: '0', ...opts.env })
  const app = await buildApp({ config, database, now: opts.now })
  t.teardown(() => app.close())
  return { app, database, config, adminAuth: { authorization: `Bearer ${ADMIN_SECRET}` } }
}

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` })

/** Creates an org with a unique name, plus a reporter key for it, directly through the services. */
export async function createOrgWithReporter(
  ctx: TestApp,
  kind = 'trade_union',
): Promise<{ orgId: string; auth: { authorization: string }; keyId: string }> {
  const db = ctx.database.db
  return inTransaction(db, async (tx) => {
    const org = await createOrgsService({ db }).createIn(tx, null as unknown as string, {
      name: `org-${randomBytes(6).toString('hex')}`,
      kind,
    })
    const key = await createApiKeysService({ db }).createIn(tx, null, {
      name: 'reporter',
      role: 'reporter',
      org_id: org.body.id,
    })
    return { orgId: org.body.id, auth: bearer(key.body.secret), keyId: key.body.id }
  })
}

export async function createKey(ctx: TestApp, role: 'admin' | 'finance'): Promise<{ authorization: string }> {
  const db = ctx.database.db
  const key = await inTransaction(db, (tx) =>
    createApiKeysService({ db }).createIn(tx, null, { name: role, role }),
  )
  return bearer(key.body.secret)
}

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return res.json() as T
}

/** A name no other test uses, so tests never collide on one shared database. */
export const uniqueName = (prefix = 'org') => `${prefix}-${randomBytes(6).toString('hex')}`

/** Creates an org directly through the service; returns its id. */
export async function createOrg(ctx: TestApp, kind = 'agency', name = uniqueName()): Promise<string> {
  const db = ctx.database.db
  const org = await inTransaction(db, (tx) =>
    createOrgsService({ db }).createIn(tx, null as unknown as string, { name, kind }),
  )
  return org.body.id
}

/** Creates a key of any role directly through the service; returns its id, secret and auth header. */
export async function createKeyFor(
  ctx: TestApp,
  role: 'admin' | 'finance' | 'reporter',
  orgId?: string,
): Promise<{ keyId: string; secret: string; auth: { authorization: string } }> {
  const db = ctx.database.db
  const key = await inTransaction(db, (tx) =>
    createApiKeysService({ db }).createIn(tx, null, { name: role, role, org_id: orgId }),
  )
  return { keyId: key.body.id, secret: key.body.secret, auth: bearer(key.body.secret) }
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  errors?: { path: string; message: string }[]
  [extension: string]: unknown
}

/**
 * Asserts an RFC 9457 response with this status and code (content type, every member, no stack or SQL)
 * and returns the body.
 */
export function assertProblem(t: Test, res: LightMyRequestResponse, status: number, code: string): Problem {
  t.equal(res.statusCode, status, `status ${status} (${code})`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, 'problem+json content type')
  const body = res.json() as Problem
  t.equal(body.status, status, 'body.status')
  t.equal(body.code, code, 'body.code')
  t.type(body.type, 'string', 'body.type')
  t.type(body.title, 'string', 'body.title')
  t.type(body.detail, 'string', 'body.detail')
  t.notMatch(
    res.body,
    /\bat .+:\d+:\d+|node_modules|\bselect\b.+\bfrom\b|\binsert into\b/i,
    'no stack or SQL',
  )
  return body
}
