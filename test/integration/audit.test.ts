import { sql } from 'drizzle-orm'
import t from 'tap'
import { encodeCursor } from '../../src/cursor.js'
import { queryRows } from '../../src/db/client.js'
import { createKey, createOrgWithReporter, uniq } from '../factories.js'
import { type AuditRow, assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const { app } = ctx
const admin = await createKey(ctx, 'admin')

/** An entry as GET /v1/audit answers it: the stored row and its time. */
interface AuditEntry extends AuditRow {
  at: string
}
type Page = { items: AuditEntry[]; next_cursor: string | null }

async function createOrgViaApi(name = uniq('org')) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/orgs',
    headers: admin.auth,
    payload: { name, kind: 'agency' },
  })
  t.equal(res.statusCode, 201)
  return res.json<{ id: string; name: string }>()
}

async function audit(query: string, headers = admin.auth): Promise<Page> {
  const res = await app.inject({ url: `/v1/audit?${query}`, headers })
  if (res.statusCode !== 200) throw new Error(`audit ${query}: ${res.statusCode} ${res.body}`)
  return res.json<Page>()
}

t.test('happy', async (t) => {
  t.test('creating an org writes org.created with the actor and the new state', async (t) => {
    const org = await createOrgViaApi()
    const { items } = await audit(`entity=org&entity_id=${org.id}`)
    t.equal(items.length, 1)
    t.match(items[0], {
      action: 'org.created',
      entity: 'org',
      entity_id: org.id,
      actor_key_id: admin.keyId,
      before: null,
      after: { id: org.id, name: org.name, kind: 'agency' },
    })
    t.ok(Number.isFinite(Date.parse(items[0]!.at)))
  })

  t.test('renaming writes org.updated with before and after', async (t) => {
    const org = await createOrgViaApi()
    const name = uniq('renamed')
    await app.inject({ method: 'PATCH', url: `/v1/orgs/${org.id}`, headers: admin.auth, payload: { name } })
    const { items } = await audit(`entity_id=${org.id}&action=org.updated`)
    t.match(items, [{ before: { name: org.name }, after: { name }, actor_key_id: admin.keyId }])
  })

  t.test('creating a key writes api_key.created without the secret', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: admin.auth,
      payload: { name: 'audited', role: 'finance' },
    })
    const { id, secret } = res.json<{ id: string; secret: string }>()
    const { items } = await audit(`action=api_key.created&entity_id=${id}`)
    t.match(items, [
      {
        action: 'api_key.created',
        entity: 'api_key',
        actor_key_id: admin.keyId,
        after: { id, role: 'finance' },
      },
    ])
    t.notOk(JSON.stringify(items).includes(secret))
  })

  t.test('no audit row anywhere holds a secret or a key hash', async (t) => {
    const secrets: string[] = []
    for (const role of ['admin', 'finance'] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: admin.auth,
        payload: { name: role, role },
      })
      secrets.push(res.json<{ secret: string }>().secret)
    }
    const reporter = await createOrgWithReporter(ctx)
    secrets.push(reporter.auth.authorization.slice('Bearer '.length))
    const rows = await queryRows<{ row: string }>(
      ctx.database.db,
      sql`select row_to_json(a)::text as row from audit_log a`,
    )
    const hashes = await queryRows<{ key_hash: string }>(ctx.database.db, sql`select key_hash from api_keys`)
    t.ok(rows.length > 0)
    for (const { row } of rows) {
      for (const s of secrets) t.notOk(row.includes(s.slice(4)), 'no secret')
      for (const { key_hash } of hashes) t.notOk(row.includes(key_hash), 'no hash')
    }
  })

  t.test('newest first, paged by cursor without repeats', async (t) => {
    const prefix = uniq('order')
    const created: { id: string }[] = []
    for (let i = 0; i < 5; i++) created.push(await createOrgViaApi(`${prefix}-${i}`))
    const seen: AuditEntry[] = []
    let cursor: string | null = null
    do {
      const page: Page = await audit(
        `action=org.created&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
      seen.push(...page.items)
      cursor = page.next_cursor
    } while (cursor)
    const ids = seen.map((e) => BigInt(e.id))
    t.same(
      ids,
      [...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)),
      'ids descending',
    )
    t.equal(new Set(ids).size, ids.length, 'no repeats')
    const mine = seen.filter((e) => created.some((o) => o.id === e.entity_id)).map((e) => e.entity_id)
    t.same(mine, created.map((o) => o.id).reverse(), 'my five orgs, newest first')
  })

  t.test('from/to filters by time; a date covers its whole day in Asia/Shanghai', async (t) => {
    const org = await createOrgViaApi()
    const [entry] = (await audit(`entity_id=${org.id}`)).items
    const at = new Date(entry!.at)
    const q = (extra: string) => audit(`entity_id=${org.id}&${extra}`)
    t.equal(
      (await q(`from=${encodeURIComponent(new Date(at.getTime() - 1000).toISOString())}`)).items.length,
      1,
    )
    t.equal(
      (await q(`from=${encodeURIComponent(new Date(at.getTime() + 1000).toISOString())}`)).items.length,
      0,
    )
    t.equal(
      (await q(`to=${encodeURIComponent(new Date(at.getTime() - 1000).toISOString())}`)).items.length,
      0,
    )
    const shanghaiDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(at)
    t.equal((await q(`from=${shanghaiDay}&to=${shanghaiDay}`)).items.length, 1, 'the day itself')
    t.equal((await q('to=2000-01-01')).items.length, 0)
    t.equal((await q('entity=api_key')).items.length, 0, 'filters combine')
  })

  t.test('finance reads the audit log', async (t) => {
    const finance = await createKey(ctx, 'finance')
    t.ok((await audit('limit=1', finance.auth)).items.length === 1)
  })
})

t.test('errors', async (t) => {
  t.test('bad filters are 400', async (t) => {
    for (const q of [
      'action=org.deleted',
      'from=yesterday',
      'to=2024-02-30',
      'limit=0',
      'limit=501',
      'bogus=1',
    ]) {
      assertProblem(
        t,
        await app.inject({ url: `/v1/audit?${q}`, headers: admin.auth }),
        400,
        'validation_failed',
      )
    }
  })

  t.test('a forged cursor is 400, never a database error', async (t) => {
    for (const position of [['abc'], [1.5], ['-1'], ['99999999999999999999'], ['9223372036854775808'], [7]]) {
      const res = await app.inject({
        url: `/v1/audit?cursor=${encodeCursor(position, {})}`,
        headers: admin.auth,
      })
      t.match(assertProblem(t, res, 400, 'validation_failed').errors, [{ path: '/querystring/cursor' }])
    }
  })

  t.test('a cursor used with other filters is 400', async (t) => {
    await createOrgViaApi()
    await createOrgViaApi()
    const { next_cursor } = await audit('action=org.created&limit=1')
    t.ok(next_cursor)
    const res = await app.inject({
      url: `/v1/audit?action=api_key.created&limit=1&cursor=${encodeURIComponent(next_cursor!)}`,
      headers: admin.auth,
    })
    t.match(assertProblem(t, res, 400, 'validation_failed').errors, [{ path: '/querystring/cursor' }])
  })
})

t.test('security', async (t) => {
  t.test('reporters may not read it; nobody may without a key', async (t) => {
    const reporter = await createOrgWithReporter(ctx)
    assertProblem(t, await app.inject({ url: '/v1/audit', headers: reporter.auth }), 403, 'forbidden')
    assertProblem(t, await app.inject({ url: '/v1/audit' }), 401, 'unauthorized')
  })

  t.test('the API offers no way to change it', async (t) => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const res = await app.inject({ method, url: '/v1/audit', headers: admin.auth, payload: {} })
      assertProblem(t, res, 405, 'method_not_allowed')
      t.equal(res.headers.allow, 'GET, HEAD')
    }
  })

  t.test('the database rejects UPDATE, DELETE and TRUNCATE on audit_log', async (t) => {
    await createOrgViaApi()
    const db = ctx.database.db
    const before = await queryRows<{ n: string | number }>(db, sql`select count(*) as n from audit_log`)
    await t.rejects(db.execute(sql`update audit_log set action = 'org.updated'`), 'UPDATE rejected')
    await t.rejects(
      db.execute(sql`update audit_log set after = null where id = (select max(id) from audit_log)`),
    )
    await t.rejects(db.execute(sql`delete from audit_log`), 'DELETE rejected')
    await t.rejects(db.execute(sql`truncate audit_log`), 'TRUNCATE rejected')
    const after = await queryRows<{ n: string | number }>(db, sql`select count(*) as n from audit_log`)
    t.equal(Number(after[0]!.n), Number(before[0]!.n), 'nothing changed')
  })
})
