/** POST /v1/purchases/import: what Excel writes is accepted, everything else refused clearly, all or nothing. */
import { sql } from 'drizzle-orm'
import iconv from 'iconv-lite'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { listAll, postCsv } from '../api.js'
import { createKey, createOrgWithReporter, csv, fixture, uniq, yuan } from '../factories.js'
import { type Auth, assertProblem, buildTestApp } from '../helper.js'

const ctx = await buildTestApp(t)
const admin: Auth = ctx.adminAuth
const onPostgres = Boolean(process.env.DATABASE_URL)

const HEADER = 'channel,amount,occurred_on,region_code,supplier,voucher_no'
const row = (amount: string, voucher = uniq(), extra = '') =>
  `wholesale,${amount},2024-05-20,530502,保山市某某农业开发有限公司,${voucher}${extra}`

async function stored(orgId: string): Promise<{ count: number; fen: bigint }> {
  const [r] = await queryRows<{ count: string; fen: string | null }>(
    ctx.database.db,
    sql`select count(*)::text as count, sum(amount_fen)::text as fen from purchases where org_id = ${orgId}::uuid`,
  )
  return { count: Number(r!.count), fen: BigInt(r!.fen ?? 0) }
}

t.test('accepts what Excel writes', async (t) => {
  t.test('GBK CSV with Chinese headers, channel labels, separators, 2024/5/20 dates, CRLF', async (t) => {
    const org = await createOrgWithReporter(ctx)
    // The committed bytes are GBK: they decode to the UTF-8 source and are not valid UTF-8.
    const bytes = fixture('purchases-excel-gbk.csv')
    t.equal(iconv.decode(bytes, 'gbk'), fixture('purchases-excel-gbk.source.txt').toString('utf8'))
    const res = await postCsv(ctx, org.auth, bytes, '?encoding=gbk')
    t.equal(res.statusCode, 201, res.body)
    t.same(res.json(), { imported: 6, amount: '2516780.19' })
    const records = await listAll(ctx, org.auth, `org_id=${org.orgId}`)
    t.equal(records.length, 6)
    const coffee = records.find((r) => r.voucher_no === '24532000000012345678')!
    t.match(coffee, {
      channel: 'wholesale',
      amount: '125000.50',
      occurred_on: '2024-05-20',
      org_id: org.orgId,
      region_code: '530502',
      supplier: '保山市隆阳区咖啡产业开发有限公司',
      supplier_credit_code: '91530500MA6K12345F',
      product: '小粒咖啡 200 箱',
      external_ref: null,
      note: null,
    })
    const union = records.find((r) => r.external_ref === 'HR-2024-061')!
    t.match(union, { channel: 'union_welfare', product: '中秋慰问品, 礼盒装', occurred_on: '2024-06-03' })
    t.equal(records.find((r) => r.channel === 'canteen')!.note, '食堂"预留份额"采购')
    t.equal(records.find((r) => r.channel === 'market_sales')!.amount, '2345678.90')
  })

  t.test('the GBK file without ?encoding=gbk → 400 saying so', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const res = await postCsv(ctx, org.auth, fixture('purchases-excel-gbk.csv'))
    const [error] = assertProblem(t, res, 400, 'validation_failed', ['/']).errors!
    t.match(
      error!.message,
      /file is not valid UTF-8.*line 1.*if it was saved by Excel on Chinese Windows, add \?encoding=gbk/,
    )
    t.same(await stored(org.orgId), { count: 0, fen: 0n })
  })

  t.test('UTF-8 with BOM, CRLF, quoted commas, quotes and line breaks, an empty row', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const res = await postCsv(ctx, org.auth, fixture('purchases-excel-utf8-bom.csv'))
    t.equal(res.statusCode, 201, res.body)
    t.same(res.json(), { imported: 5, amount: '7668055.60' })
    const records = await listAll(ctx, org.auth, `org_id=${org.orgId}`)
    const byVoucher = new Map(records.map((r) => [r.voucher_no ?? r.channel, r]))
    t.match(byVoucher.get('INV-2024-0001'), {
      amount: '1234.50',
      supplier: '保山市隆阳区咖啡产业开发有限公司, 第二分公司',
      product: '小粒咖啡 "特级" 200 箱',
    })
    t.equal(byVoucher.get('union_welfare')!.note, '第一行\n第二行, 含逗号\n第三行')
    t.equal(byVoucher.get('market_sales')!.note, '备注 "引号"')
    t.equal(byVoucher.get('INV-2024-0003')!.amount, '7654321.09')
  })

  t.test('UTF-8 read as GBK would be mojibake → 400 naming the fix', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const bom = await postCsv(ctx, org.auth, fixture('purchases-excel-utf8-bom.csv'), '?encoding=gbk')
    t.match(
      assertProblem(t, bom, 400, 'validation_failed', ['/']).errors![0]!.message,
      /UTF-8.*remove \?encoding=gbk/,
    )
    const noBom = fixture('purchases-excel-gbk.source.txt')
    const res = await postCsv(ctx, org.auth, noBom, '?encoding=gbk')
    t.match(
      assertProblem(t, res, 400, 'validation_failed', ['/']).errors![0]!.message,
      /file is UTF-8, not GBK.*remove \?encoding=gbk/,
    )
  })

  t.test('UTF-8 without BOM and LF line ends; the same file as GBK', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const text = fixture('purchases-excel-gbk.source.txt').toString('utf8').replace(/\r\n/g, '\n')
    const res = await postCsv(ctx, org.auth, text.replace(/2453200000001234567/g, uniq('X')))
    t.equal(res.statusCode, 201, res.body)
    t.same(res.json(), { imported: 6, amount: '2516780.19' })
  })

  t.test('trailing empty lines, blank rows and empty optional cells are fine', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const body = `${csv(`${HEADER},note,product`, row('10', uniq(), ',,'), ',,,,,,,', row('20.5', '', ',  ,'))}\r\n\r\n\n`
    const res = await postCsv(ctx, org.auth, body)
    t.equal(res.statusCode, 201, res.body)
    t.same(res.json(), { imported: 2, amount: '30.50' })
    const records = await listAll(ctx, org.auth, `org_id=${org.orgId}`)
    t.same(
      records.map((r) => [r.voucher_no === null, r.note, r.product]).sort(),
      [
        [false, null, null],
        [true, null, null],
      ].sort(),
    )
  })

  t.test('thousands separators only when well-formed', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const good = await postCsv(
      ctx,
      org.auth,
      csv(HEADER, row('"1,234.50"'), row('"12,345,678.9"'), row('"999"'), row('"1,000"')),
      '?dry_run=true',
    )
    t.same(good.json(), { valid: true, count: 4, amount: '12348912.40' })
    const bad = await postCsv(
      ctx,
      org.auth,
      csv(
        HEADER,
        row('"1,23.50"'),
        row('"1234,567.00"'),
        row('"1,234.567"'),
        row('"1.234,50"'),
        row('1234.5'),
      ),
    )
    const errors = assertProblem(t, bad, 400, 'validation_failed', [
      '/rows/2/amount',
      '/rows/3/amount',
      '/rows/4/amount',
      '/rows/5/amount',
    ]).errors!
    t.match(errors[0]!.message, /group by three digits/)
  })

  t.test('channel codes and Chinese labels; English and Chinese headers in any order', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const body = csv(
      '供应商,渠道,金额,日期,地区代码,凭证号,外部编号,备注,产品',
      `甲公司,工会福利,100,2024-01-02,530521,${uniq()},E-1,备注,产品`,
      `乙公司,market_sales,200,2024/1/3,653124,${uniq()},,,`,
      `丙公司, 企业采购 ,300,2024.1.4,530524,,,,`,
      `丁公司,食堂预留,400,2024-01-05,530623,,,,`,
    )
    const res = await postCsv(ctx, org.auth, body)
    t.equal(res.statusCode, 201, res.body)
    const records = await listAll(ctx, org.auth, `org_id=${org.orgId}`)
    t.same(records.map((r) => [r.supplier, r.channel, r.occurred_on]).sort(), [
      ['丁公司', 'canteen', '2024-01-05'],
      ['丙公司', 'enterprise', '2024-01-04'],
      ['乙公司', 'market_sales', '2024-01-03'],
      ['甲公司', 'union_welfare', '2024-01-02'],
    ])
  })

  t.test("the export's extra columns are accepted and ignored; a voided row is refused", async (t) => {
    const org = await createOrgWithReporter(ctx)
    const header =
      'id,channel,amount,occurred_on,org_id,region_code,supplier,year,status,created_at,voided_at,void_reason'
    const cells = (status: string) =>
      `00000000-0000-4000-8000-000000000000,canteen,5.00,2024-02-02,${org.orgId},530502,某公司,1999,${status},2024-02-02T00:00:00.000Z,,`
    const ok = await postCsv(ctx, org.auth, csv(header, cells('active'), cells('有效'), cells('')))
    t.equal(ok.statusCode, 201, ok.body)
    t.same(ok.json(), { imported: 3, amount: '15.00' })
    const records = await listAll(ctx, org.auth, `org_id=${org.orgId}`)
    t.ok(records.every((r) => r.id !== '00000000-0000-4000-8000-000000000000' && r.year === 2024))
    const voided = await postCsv(
      ctx,
      org.auth,
      csv(header, cells('active'), cells('voided'), cells('已作废')),
    )
    t.match(
      assertProblem(t, voided, 400, 'validation_failed', ['/rows/3/status', '/rows/4/status']).errors![0]!
        .message,
      /voided record cannot be imported/,
    )
  })

  t.test('text our export protected with an apostrophe comes back as it was', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const res = await postCsv(
      ctx,
      org.auth,
      csv(`${HEADER},note`, row('1', uniq(), ",'=SUM(A1)"), row('2', uniq(), ",'plain")),
    )
    t.equal(res.statusCode, 201, res.body)
    const notes = (await listAll(ctx, org.auth, `org_id=${org.orgId}`)).map((r) => r.note).sort()
    t.same(notes, ["'plain", '=SUM(A1)'])
  })
})

t.test('rejects, with spreadsheet row numbers', async (t) => {
  t.test('unknown, duplicate and missing columns → /rows/1/<header>', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const res = await postCsv(
      ctx,
      org.auth,
      csv('channel,amount,金额（元）,日期,supplier,colour,Amount', row('1')),
    )
    const errors = assertProblem(t, res, 400, 'validation_failed', [
      '/rows/1/金额（元）',
      '/rows/1/colour',
      '/rows/1/Amount',
      '/rows/1/region_code',
    ]).errors!
    t.match(
      errors.find((e) => e.path === '/rows/1/colour')!.message,
      /unknown column in F1; accepted headers: channel \(渠道\)/,
    )
    t.match(errors.find((e) => e.path === '/rows/1/金额（元）')!.message, /duplicate column.*amount/)
    t.match(errors.find((e) => e.path === '/rows/1/region_code')!.message, /required column missing/)
  })

  t.test('a header garbled by a wrong encoding is recognised', async (t) => {
    const org = await createOrgWithReporter(ctx)
    // UTF-8 bytes of 渠道 read as GBK and saved again as UTF-8: the classic mojibake.
    const garbled = iconv.decode(Buffer.from('渠道', 'utf8'), 'gbk')
    t.equal(garbled, '娓犻亾')
    const res = await postCsv(
      ctx,
      org.auth,
      csv(`${garbled},amount,occurred_on,region_code,supplier`, '大宗批发,1,2024-01-01,530502,x'),
    )
    const errors = assertProblem(t, res, 400, 'validation_failed', [`/rows/1/${garbled}`, '/rows/1/channel'])
      .errors!
    t.match(
      errors.find((e) => e.path !== '/rows/1/channel')!.message,
      /looks like "渠道" garbled by a wrong encoding/,
    )
  })

  t.test('UTF-16 (Excel "Unicode Text") → 400', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const res = await postCsv(
      ctx,
      org.auth,
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv(HEADER), 'utf16le')]),
    )
    t.match(assertProblem(t, res, 400, 'validation_failed', ['/']).errors![0]!.message, /UTF-16/)
  })

  t.test('empty file, header only, empty first row', async (t) => {
    const org = await createOrgWithReporter(ctx)
    t.match(
      assertProblem(t, await postCsv(ctx, org.auth, ''), 400, 'validation_failed', ['/rows/1']).errors![0]!
        .message,
      /empty/,
    )
    t.match(
      assertProblem(t, await postCsv(ctx, org.auth, '\ufeff'), 400, 'validation_failed', ['/rows/1'])
        .errors![0]!.message,
      /empty/,
    )
    t.match(
      assertProblem(t, await postCsv(ctx, org.auth, csv(HEADER, ',,,,,', '')), 400, 'validation_failed', [
        '/rows',
      ]).errors![0]!.message,
      /no data rows/,
    )
    t.match(
      assertProblem(t, await postCsv(ctx, org.auth, csv('', HEADER, row('1'))), 400, 'validation_failed', [
        '/rows/1',
      ]).errors![0]!.message,
      /header/,
    )
  })

  t.test('more cells than headers → /rows/<n>; trailing empty cells are fine', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const res = await postCsv(ctx, org.auth, csv(HEADER, row('1', uniq(), ',,,'), row('1', uniq(), ',x')))
    t.match(
      assertProblem(t, res, 400, 'validation_failed', ['/rows/3']).errors![0]!.message,
      /cell G3 has data but the header has only 6 columns/,
    )
  })

  t.test(
    'every bad cell of every row, by field; row numbers count quoted line breaks as one row',
    async (t) => {
      const org = await createOrgWithReporter(ctx)
      const body = csv(
        `${HEADER},note`,
        `${row('1', uniq(), ',"two\nlines"')}`, // row 2, physical lines 2-3
        '', // row 3: empty
        'shopping,-5,2024-02-30,53050,,V,', // row 4
        `${row('1.234', uniq(), ',"a ""quoted""\r\nnote"')}`, // row 5
        'wholesale,1,2099-01-01,530502,x,,', // row 6: schema-valid, future date is a domain check
        `wholesale,1,2024-01-01,530502,x,2.45321E+19,`, // row 7
      )
      const res = await postCsv(ctx, org.auth, body)
      const errors = assertProblem(t, res, 400, 'validation_failed', [
        '/rows/4/channel',
        '/rows/4/amount',
        '/rows/4/occurred_on',
        '/rows/4/region_code',
        '/rows/4/supplier',
        '/rows/5/amount',
        '/rows/7/voucher_no',
      ]).errors!
      const at = (p: string) => errors.find((e) => e.path === p)!.message
      t.match(at('/rows/4/channel'), /must be one of wholesale \(大宗批发\)/)
      t.match(at('/rows/4/supplier'), /required/)
      t.match(at('/rows/4/occurred_on'), /calendar date/)
      t.match(at('/rows/7/voucher_no'), /Excel shortened; format the column as Text/)
      t.same(await stored(org.orgId), { count: 0, fen: 0n })

      // Once the cells are fine, the domain checks speak, with the same row numbers.
      const domain = await postCsv(
        ctx,
        org.auth,
        csv(
          `${HEADER},note`,
          row('1', uniq(), ',"x\ny"'),
          '',
          'wholesale,1,2099-01-01,530502,x,,',
          'wholesale,1,2024-01-01,999999,x,,',
        ),
      )
      const domainErrors = assertProblem(t, domain, 400, 'validation_failed', [
        '/rows/4/occurred_on',
        '/rows/5/region_code',
      ]).errors!
      t.match(domainErrors[0]!.message, /future|registered/)
    },
  )

  t.test('a row number in the fixture: row 4 sits on physical line 6', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const text = fixture('purchases-excel-utf8-bom.csv').toString('utf8')
    t.equal(text.split('\r\n').length - 1, 7, '7 CRLF-terminated rows')
    const res = await postCsv(ctx, org.auth, text.replace('"12,000.00"', '"12,000.0x"'))
    assertProblem(t, res, 400, 'validation_failed', ['/rows/4/amount'])
  })

  t.test('unclosed quote → 400 naming the row', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const res = await postCsv(ctx, org.auth, csv(HEADER, row('1'), 'wholesale,"2,2024-01-01,530502,x,'))
    t.match(assertProblem(t, res, 400, 'validation_failed', ['/rows/3']).errors![0]!.message, /not valid CSV/)
    // Deep in a file too, where the parser runs ahead of the row checks.
    const many = Array.from({ length: 3000 }, () => row('1'))
    const deep = await postCsv(ctx, org.auth, csv(HEADER, ...many, 'wholesale,"2,2024-01-01,530502,x,'))
    assertProblem(t, deep, 400, 'validation_failed', ['/rows/3002'])
  })

  t.test(
    'a stored voucher or one repeated in the file → 409 listing every clashing row; nothing stored',
    async (t) => {
      const org = await createOrgWithReporter(ctx)
      const taken = uniq()
      t.equal((await postCsv(ctx, org.auth, csv(HEADER, row('1', taken)))).statusCode, 201)
      const twice = uniq()
      const res = await postCsv(
        ctx,
        org.auth,
        csv(HEADER, row('1'), row('2', twice), row('3', taken), row('4', twice)),
      )
      const body = assertProblem(t, res, 409, 'duplicate_voucher')
      t.same(
        body.errors!.map((e) => e.path),
        ['/rows/3/voucher_no', '/rows/4/voucher_no', '/rows/5/voucher_no'],
      )
      t.type(body.existing_id, 'string')
      t.same(await stored(org.orgId), { count: 1, fen: 100n })
    },
  )

  t.test('wrong content type → 415; no key → 401; finance → 403', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const json = await ctx.app.inject({
      method: 'POST',
      url: '/v1/purchases/import',
      headers: { ...org.auth, 'content-type': 'application/json' },
      payload: '{"items":[]}',
    })
    assertProblem(t, json, 415, 'unsupported_media_type')
    assertProblem(t, await postCsv(ctx, { authorization: '' }, csv(HEADER, row('1'))), 401, 'unauthorized')
    assertProblem(
      t,
      await postCsv(ctx, (await createKey(ctx, 'finance')).auth, csv(HEADER, row('1'))),
      403,
      'forbidden',
    )
    const noBody = await ctx.app.inject({ method: 'POST', url: '/v1/purchases/import', headers: org.auth })
    t.equal(noBody.statusCode, 400)
    assertProblem(
      t,
      await postCsv(ctx, org.auth, csv(HEADER, row('1')), '?encoding=latin1'),
      400,
      'validation_failed',
    )
  })

  t.test('a body over 64 MiB → 413 problem+json', async (t) => {
    const org = await createOrgWithReporter(ctx)
    const big = Buffer.alloc(64 * 1024 * 1024 + 1, 0x41)
    const res = await postCsv(ctx, org.auth, big)
    assertProblem(t, res, 413, 'payload_too_large')
  })
})

t.test('orgs: reporters import into their own org; admins name it per row or with ?org_id=', async (t) => {
  const a = await createOrgWithReporter(ctx)
  const b = await createOrgWithReporter(ctx)
  const withOrg = (orgId: string) => csv(`${HEADER},org_id`, row('1', uniq(), `,${orgId}`))

  t.equal((await postCsv(ctx, a.auth, withOrg(a.orgId))).statusCode, 201, 'own org_id column')
  assertProblem(t, await postCsv(ctx, a.auth, withOrg(b.orgId)), 403, 'forbidden')
  assertProblem(t, await postCsv(ctx, a.auth, csv(HEADER, row('1')), `?org_id=${b.orgId}`), 403, 'forbidden')
  t.equal(
    (await postCsv(ctx, a.auth, withOrg(b.orgId), `?org_id=${a.orgId}`)).statusCode,
    201,
    '?org_id overrides',
  )

  const missing = await postCsv(ctx, admin, csv(HEADER, row('1')))
  t.match(
    assertProblem(t, missing, 400, 'validation_failed', ['/rows/1/org_id']).errors![0]!.message,
    /\?org_id=/,
  )
  const blank = await postCsv(
    ctx,
    admin,
    csv(`${HEADER},org_id`, row('1', uniq(), `,${b.orgId}`), row('2', uniq(), ',')),
  )
  t.match(
    assertProblem(t, blank, 400, 'validation_failed', ['/rows/3/org_id']).errors![0]!.message,
    /required for admin keys/,
  )
  t.equal((await postCsv(ctx, admin, withOrg(b.orgId))).statusCode, 201)
  t.equal((await postCsv(ctx, admin, withOrg(a.orgId), `?org_id=${b.orgId}`)).statusCode, 201)
  t.same(await stored(a.orgId), { count: 2, fen: 200n })
  t.same(await stored(b.orgId), { count: 2, fen: 200n })
})

t.test('dry run: the same checks, nothing stored', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const body = csv(HEADER, row('"1,000.25"'), row('2'))
  const dry = await postCsv(ctx, org.auth, body, '?dry_run=true')
  t.equal(dry.statusCode, 200)
  t.same(dry.json(), { valid: true, count: 2, amount: '1002.25' })
  assertProblem(
    t,
    await postCsv(ctx, org.auth, csv(HEADER, row('0')), '?dry_run=true'),
    400,
    'validation_failed',
    ['/rows/2/amount'],
  )
  t.same(await stored(org.orgId), { count: 0, fen: 0n })
})

t.test('Idempotency-Key: the raw bytes and the query are the fingerprint', async (t) => {
  const org = await createOrgWithReporter(ctx)
  const key = { 'idempotency-key': uniq('import') }
  const body = csv(HEADER, row('7'))
  const first = await postCsv(ctx, org.auth, body, '', key)
  t.equal(first.statusCode, 201)
  const again = await postCsv(ctx, org.auth, body, '', key)
  t.equal(again.statusCode, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), first.json())
  t.same(await stored(org.orgId), { count: 1, fen: 700n })
  assertProblem(t, await postCsv(ctx, org.auth, `${body}\r\n`, '', key), 422, 'idempotency_key_reused')
  assertProblem(t, await postCsv(ctx, org.auth, body, '?dry_run=true', key), 422, 'idempotency_key_reused')
})

t.test(
  `${onPostgres ? 100_000 : 20_000} rows in one request (PGlite: 20 000 to keep CI quick)`,
  async (t) => {
    const rows = onPostgres ? 100_000 : 20_000
    const badRow = onPostgres ? 77_777 : 17_777
    const org = await createOrgWithReporter(ctx)
    const tag = uniq('B')
    const lines = ['渠道,金额（元）,发生日期,地区代码,供应商,凭证号']
    const labels = ['大宗批发', '工会福利', '企业采购', '食堂预留', '市场销售']
    let fen = 0n
    for (let i = 0; i < rows; i++) {
      const f = 1n + BigInt((i * 7919) % 999_999_999)
      fen += f
      const amount = yuan(f).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
      lines.push(
        `${labels[i % 5]},"${amount}",2024-${String(1 + (i % 12)).padStart(2, '0')}-15,530502,供应商${i % 97},${tag}-${i}`,
      )
    }
    const good = Buffer.from(`\ufeff${lines.join('\r\n')}\r\n`)
    const bad = [...lines]
    bad[badRow - 1] = bad[badRow - 1]!.replace(/"[^"]+"/, '"12,34"')
    const badBody = Buffer.from(`\ufeff${bad.join('\r\n')}\r\n`)

    const refused = await postCsv(ctx, org.auth, badBody)
    assertProblem(t, refused, 400, 'validation_failed', [`/rows/${badRow}/amount`])
    t.same(await stored(org.orgId), { count: 0, fen: 0n }, 'one bad row: nothing stored')

    const dry = await postCsv(ctx, org.auth, good, '?dry_run=true')
    t.same(dry.json(), { valid: true, count: rows, amount: yuan(fen) })
    t.same(await stored(org.orgId), { count: 0, fen: 0n }, 'dry run: nothing stored')

    const res = await postCsv(ctx, org.auth, good)
    t.equal(res.statusCode, 201, res.body.slice(0, 500))
    t.same(res.json(), { imported: rows, amount: yuan(fen) })
    t.same(await stored(org.orgId), { count: rows, fen }, 'every row stored, exact sum')
    const [audit] = await queryRows<{ n: string }>(
      ctx.database.db,
      sql`select count(*)::text as n from audit_log a join purchases p on p.id::text = a.entity_id
         where a.action = 'purchase.created' and p.org_id = ${org.orgId}::uuid`,
    )
    t.equal(Number(audit!.n), rows, 'one purchase.created audit row per record')
  },
)
