import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { uniq } from '../factories.js'
import { ADMIN_SECRET, bearer, freshDatabase } from '../helper.js'

/** Writes through one app, closes it (and its database), then reads everything back through a new one. */
async function restartKeepsData(t: Test, env: Record<string, string>) {
  const config = loadConfig({ ADMIN_API_KEY: ADMIN_SECRET, RATE_LIMIT_PER_MINUTE: '0', ...env })
  const admin = bearer(ADMIN_SECRET)
  const name = uniq('persisted')

  const first = await buildApp({ config })
  const created = await first.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: admin,
    payload: { name, kind: 'soe' },
  })
  t.equal(created.statusCode, 201)
  const org = created.json<{ id: string }>()
  const keyRes = await first.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: admin,
    payload: { name: 'reporter', role: 'reporter', org_id: org.id },
  })
  const { secret } = keyRes.json<{ secret: string }>()
  await first.close()

  const second = await buildApp({ config })
  try {
    const read = await second.inject({ url: `/v1/orgs/${org.id}`, headers: admin })
    t.equal(read.statusCode, 200)
    t.same(read.json(), created.json(), 'the org is back, unchanged')
    t.equal(
      (await second.inject({ url: '/v1/regions', headers: bearer(secret) })).statusCode,
      200,
      'the key still works',
    )
    const audit = await second.inject({ url: `/v1/audit?entity_id=${org.id}`, headers: admin })
    t.equal(audit.json<{ items: unknown[] }>().items.length, 1, 'so does its audit row')
    const keys = await second.inject({ url: '/v1/api-keys', headers: admin })
    t.equal(
      keys.json<{ items: { name: string }[] }>().items.filter((k) => k.name.startsWith('bootstrap admin'))
        .length,
      1,
      'ADMIN_API_KEY bootstrap stays one key across restarts',
    )
  } finally {
    await second.close()
  }
}

t.test('embedded PostgreSQL: a data directory survives a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tracker-restart-'))
  // As root the embedded server runs as the postgres user, which must reach the data directory.
  chmodSync(dir, 0o755)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await restartKeepsData(t, { DATA_DIR: join(dir, 'data') })
})

t.test(
  'PostgreSQL: two successive apps on one database',
  { skip: !process.env.DATABASE_URL && 'DATABASE_URL is not set' },
  async (t) => {
    const { database, url } = await freshDatabase(t)
    // The helper's pool is not used: each app opens and closes its own, as the server does.
    await database.close()
    await restartKeepsData(t, { DATABASE_URL: url! })
  },
)
