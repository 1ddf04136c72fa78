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
    t.teardown(() => database.close())
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
  opts: { env?: Record<string, string>; now?: () => Date } = {},
): Promise<TestApp> {
  const { database } = await freshDatabase(t)
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
    const org = await createOrgsService({ db }).create(tx, null as unknown as string, {
      name: `org-${randomBytes(6).toString('hex')}`,
      kind,
    })
    const key = await createApiKeysService({ db }).create(tx, null, {
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
    createApiKeysService({ db }).create(tx, null, { name: role, role }),
  )
  return bearer(key.body.secret)
}

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return res.json() as T
}
