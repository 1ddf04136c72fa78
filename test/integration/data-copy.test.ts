/**
 * Moving an office's data (issue 14): `npm run backup` while the server runs → `npm run restore`; `npm run
 * move-to-postgres`; and the upgrade of a data directory of the earlier PGlite default. Each time the
 * service on the copy answers exactly what it answered on the original: totals, records, audit, keys, orgs.
 */
import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { openPglite } from '../../src/db/client.js'
import { openEmbeddedPostgres } from '../../src/db/embedded-postgres.js'
import { PGLITE_FOLDER } from '../../src/db/pglite-upgrade.js'
import { ADMIN_SECRET, bearer, FIXED_NOW } from '../helper.js'

const run = promisify(execFile)
const admin = bearer(ADMIN_SECRET)

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'tracker-copy-'))
  chmodSync(dir, 0o755) // as root the embedded server runs as postgres, which must reach its folder
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const appOn = (env: Record<string, string>, database?: ReturnType<typeof openPglite>) =>
  buildApp({
    config: loadConfig({
      ADMIN_API_KEY: ADMIN_SECRET,
      RATE_LIMIT_PER_MINUTE: '0',
      AUTH_FAILURES_PER_MINUTE: '0',
      ...env,
    }),
    database,
    now: FIXED_NOW,
  })

async function call(app: FastifyInstance, method: string, url: string, payload?: unknown) {
  const res = await app.inject({ method: method as 'GET', url, headers: admin, payload: payload as object })
  if (res.statusCode >= 300) throw new Error(`${method} ${url} → ${res.statusCode} ${res.body}`)
  return res.json()
}

/** Orgs, a reporter key, records (one voided), a canteen budget: something of every table. */
async function seed(app: FastifyInstance) {
  const org = await call(app, 'POST', '/v1/orgs', { name: '闵行区总工会', kind: 'trade_union' })
  const unit = await call(app, 'POST', '/v1/orgs', { name: '区机管局', kind: 'agency' })
  await call(app, 'POST', '/v1/api-keys', { name: '录入', role: 'reporter', org_id: org.id })
  const base = { occurred_on: '2026-03-01', region_code: '530502', supplier: '保山市某某公司' }
  const items = [
    { ...base, channel: 'union_welfare', amount: '125000.50', org_id: org.id, voucher_no: 'INV-1' },
    { ...base, channel: 'canteen', amount: '9999999999.99', org_id: unit.id, region_code: '653124' },
    { ...base, channel: 'market_sales', amount: '0.01', org_id: org.id, note: '第一批\n"特级"' },
  ]
  const created = await call(app, 'POST', '/v1/purchases/batch', { items })
  await call(app, 'POST', `/v1/purchases/${created.items[0].id}/void`, { reason: '录入重复' })
  await call(app, 'PUT', `/v1/canteen-budgets/2026/${unit.id}`, { canteen_total: '820000.00' })
}

/** What the service answers about everything, minus the moment it was computed. */
async function answers(app: FastifyInstance) {
  const totals = await call(app, 'GET', '/v1/totals?year=2026')
  delete totals.computed_at
  return {
    totals,
    purchases: await call(app, 'GET', '/v1/purchases?limit=500'),
    audit: await call(app, 'GET', '/v1/audit?limit=500'),
    keys: await call(app, 'GET', '/v1/api-keys'),
    orgs: await call(app, 'GET', '/v1/orgs'),
    canteen: await call(app, 'GET', '/v1/canteen-budgets/2026'),
    targets: await call(app, 'GET', '/v1/targets/2026'),
    regions: await call(app, 'GET', '/v1/regions'),
  }
}

const npmScript = (script: string, args: string[], env: Record<string, string>) =>
  run(process.execPath, ['--import=tsx', `scripts/database/${script}.ts`, ...args], {
    env: { ...process.env, DATABASE_URL: '', ...env },
  })

t.test('backup while the server runs, then restore: the same answers', async (t) => {
  const dir = scratch(t)
  const dataDir = join(dir, 'data')
  const app = await appOn({ DATA_DIR: dataDir })
  await seed(app)
  const before = await answers(app)
  // The server keeps running (and owning its database) during the backup.
  await npmScript('backup', [join(dir, 'backup')], { DATA_DIR: dataDir })
  await call(app, 'POST', '/v1/orgs', { name: '备份之后', kind: 'agency' }) // not in the backup
  await app.close()

  await npmScript('restore', [join(dir, 'backup')], { DATA_DIR: dataDir })
  t.ok(
    readdirSync(dataDir).some((f) => f.startsWith('before-restore-')),
    'the replaced database is kept aside',
  )
  const restored = await appOn({ DATA_DIR: dataDir })
  t.teardown(() => restored.close())
  t.same(await answers(restored), before, 'what the service said at the backup, exactly')
})

t.test('move-to-postgres: the service on PostgreSQL answers the same', async (t) => {
  const dir = scratch(t)
  const dataDir = join(dir, 'data')
  const app = await appOn({ DATA_DIR: dataDir })
  await seed(app)
  const before = await answers(app)
  await app.close()

  // The target: an empty PostgreSQL database (a second embedded server's, so the test needs no other).
  const target = await openEmbeddedPostgres({ dataDir: join(dir, 'target'), exclusive: true })
  t.teardown(() => target.stop())
  const { stdout } = await npmScript('move-to-postgres', [target.url], { DATA_DIR: dataDir })
  t.match(stdout, /verified/)
  const moved = await appOn({ DATABASE_URL: target.url })
  t.teardown(() => moved.close())
  t.same(await answers(moved), before)

  const refused = await npmScript('move-to-postgres', [target.url], { DATA_DIR: dataDir }).then(
    () => ({ stderr: 'it succeeded' }),
    (err: { stderr: string }) => err,
  )
  t.match(refused.stderr, /target database is not empty/, 'a database with records is never overwritten')
})

t.test('a data directory of the earlier PGlite default is upgraded on the first start', async (t) => {
  const dir = scratch(t)
  const dataDir = join(dir, 'data')
  const pglite = openPglite(dataDir)
  const old = await appOn({}, pglite)
  await seed(old)
  const before = await answers(old)
  await old.close()
  await pglite.close()
  t.ok(existsSync(join(dataDir, 'PG_VERSION')), 'a PGlite data directory')

  const upgraded = await appOn({ DATA_DIR: dataDir })
  t.teardown(() => upgraded.close())
  t.same(await answers(upgraded), before)
  t.ok(existsSync(join(dataDir, PGLITE_FOLDER, 'UPGRADED')), 'the old files are kept, marked upgraded')
  t.notOk(existsSync(join(dataDir, 'PG_VERSION')), 'and out of the way')
})
