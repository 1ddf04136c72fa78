/**
 * fast-check arbitraries for requests to the operations of the OpenAPI document: a valid request built from
 * the operation's schemas (with real fixtures by field name: orgs, regions, records, credit codes, dates,
 * money), then, most of the time, mutated — hostile values in body fields, query and path parameters,
 * missing and extra fields, malformed JSON, odd headers (Idempotency-Key, Content-Type, charset), wrong
 * methods — sent by one of seven principals. Import bodies are CSV files, valid or junk.
 */
import fc from 'fast-check'
import { validCreditCode } from '../factories.js'
import { deref, type JsonSchema, type Operation, operations } from './openapi-doc.js'
import { Huge, isPlainObject, Many, Pick, type PrincipalName } from './world.js'

/** Text put into a URL as it is, not percent-encoded (to reach the router as a client could send it). */
export class Raw {
  constructor(readonly text: string) {}
}

type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: unknown }
  | { kind: 'csv'; csv: CsvSpec }
  /** A JSON object sent with its first member twice: `first` as the value of the first copy. */
  | { kind: 'duplicate'; value: Record<string, unknown>; first: unknown }

export interface CsvSpec {
  header: unknown[]
  rows: unknown[][]
  bom: boolean
  eol: string
  quoteAll: boolean
  gbk: boolean
  /** Bytes to put in place of the file, or appended to it. */
  junk?: { at: 'replace' | 'append' | 'prepend'; bytes: readonly number[] }
}

export interface Draft {
  op: Operation
  method: string
  principal: PrincipalName
  /** Chooses which bad Authorization header `bad` sends. */
  authN: number
  path: Record<string, unknown>
  query: [string, unknown][]
  rawQuery?: string
  headers: Record<string, unknown>
  /** undefined: the operation's own type; null: no Content-Type header. */
  contentType?: string | null
  body: Body
  /** What was changed from a valid request ("valid" when nothing). */
  mutations: string[]
}

// ---- hostile values ----

/** Strings that trip text handling: controls, NUL, lone surrogates, format characters, full-width digits… */
const ODD_TEXT = [
  '',
  ' ',
  '\t',
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDFFFy',
  '\uDBFF\uDBFF',
  '\u200B',
  '\u202Eevil',
  '\u00AD',
  '\uFEFF',
  '\u0085',
  '\u001B[31m',
  '\u007F',
  '２０２４',
  '１２５０００.５０',
  '١٢٣',
  'ｗｈｏｌｅｓａｌｅ',
  'WHOLESALE',
  'e\u0301',
  '🙂',
  '\u{10FFFF}',
  '\uFFFE',
  '\r\n',
  '\u2028',
  "'; drop table purchases; --",
  '=1+1',
  "'=cmd",
  '<script>alert(1)</script>',
  '../..',
  '%00',
  'null',
  '[]',
  'NaN',
  '-0',
  '1e309',
]

const ODD_NUMBERS = [
  0,
  -1,
  1,
  1.5,
  -0.01,
  1e21,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  Number.MAX_VALUE,
  5e-324,
  2024,
]

/** Integers as a query or path might carry them: hex, exponent, sign, overflow, full width, padding… */
const ODD_INTEGERS = [
  '0x7E8',
  '2.024e3',
  '-1',
  '0',
  '99999999999999999999',
  '9007199254740993',
  '+2024',
  ' 2024',
  '2024 ',
  '２０２４',
  '2024.0',
  '1e3',
  '0b11111101000',
  '0o3750',
  'NaN',
  'Infinity',
  '-0',
  '2024\u0000',
  '2024abc',
  '1999',
  '2101',
  '2000',
  '2100',
  '13',
  '00002024',
]

const ODD_DATES = [
  '2024-02-30',
  '2023-02-29',
  '2024-13-01',
  '2024-5-20',
  '20240520',
  '2024/05/20',
  '2024-05-20T00:00:00Z',
  '2024-05-20T25:00:00+08:00',
  '1999-12-31',
  '2000-01-01',
  '2099-12-31',
  '0000-00-00',
  '２０２４-05-20',
  '2024-05-20 ',
  '+002024-05-20',
  '2026-03-16',
  '275760-09-13',
]

const ODD_MONEY = [
  '0',
  '0.00',
  '-1',
  '1e3',
  '1,234.50',
  ' 1',
  '1 ',
  '9999999999.99',
  '10000000000',
  '0.001',
  '.5',
  '5.',
  '１２３',
  '+1',
  '0x10',
  '١٢٣',
]

const ODD_IDS = [
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '{00000000-0000-0000-0000-000000000000}',
  '000000000000000000000000000000000000',
  '0190a0b0-0000-7000-8000-00000000000G',
  '０190a0b0-0000-7000-8000-000000000000',
  '0190a0b0-0000-7000-8000-000000000000 ',
]

/** Hostile strings; long ones up to `longest` characters (a URL stays under what an HTTP server reads). */
const oddStrings = (longest: number) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(...ODD_TEXT, ...ODD_INTEGERS, ...ODD_DATES, ...ODD_MONEY, ...ODD_IDS),
    },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...[101, 201, 501, 1_001, 2_001, 100_001, 1_100_000].filter((n) => n <= longest)),
          fc.constantFrom('a', '字', '\u200B', '9'),
        )
        .map(([n, unit]) => new Huge(n, unit)),
    },
  )
/** For bodies: up to past the 1 MiB JSON limit. */
const oddString = oddStrings(1_100_000)
/** For query values and CSV cells. */
const oddShortString = oddStrings(1_001)

/** Any JSON value a careless or hostile client might put in a field. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: oddString },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_NUMBERS) },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null, [], {}, [null], { a: 1 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
)

const MALFORMED_JSON = [
  '',
  '{',
  '{"a":',
  'nul',
  '{"amount": 1e999999}',
  '{"__proto__": {"role": "admin"}}',
  '{"constructor": {"prototype": {"role": "admin"}}}',
  '\uFEFF{}',
  '{} {}',
  "{'a': 1}",
  '[',
  '"\\ud800"',
  '{"a": "\\u0000"}',
  '{"a":1,}',
  '\u0000',
  '   ',
  '{"items": [1, 2, 3]}',
]

const CONTENT_TYPES = [
  null,
  '',
  'text/plain',
  'application/xml',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset=UTF-8',
  'application/json;charset="utf-8"',
  'APPLICATION/JSON',
  'application/json ; charset=utf-8',
  'application/jsonx',
  'application/problem+json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'text/csv',
  'text/csv; charset=gbk',
  'text/csv; charset=utf-8',
  'text/csv; charset=latin1',
  'TEXT/CSV',
  '*/*',
  'application/json, text/csv',
  'json',
]

const IDEMPOTENCY_KEYS = [
  '',
  ' ',
  'a'.repeat(255),
  'a'.repeat(256),
  'key with space',
  'tab\tkey',
  '\u007f',
  'é',
  'ключ',
  new Huge(8_000, 'k'),
]

const OTHER_HEADERS: [string, unknown][] = [
  ['x-request-id', ''],
  ['x-request-id', 'a'.repeat(129)],
  ['x-request-id', 'id with space'],
  ['x-request-id', '../../x'],
  ['x-request-id', new Huge(8_000, 'r')],
  ['x-request-id', 'é'],
  ['accept', 'application/xml'],
  ['accept', 'text/csv'],
  ['accept', 'application/problem+json'],
  ['accept-charset', 'iso-8859-1'],
  ['accept-encoding', 'gzip, br'],
  ['content-encoding', 'gzip'],
  ['content-language', 'zh-CN'],
  ['x-forwarded-for', '1.2.3.4, ::1'],
]

const QUERY_JUNK = [
  '%',
  '%ZZ',
  'year=%E0%A4%A',
  'year[]=2024',
  'year[a]=1',
  '&&&',
  '=',
  'a=1=2',
  '%00=1',
  'x=%FF%FE',
  ';year=2024',
  '__proto__=1',
  'constructor=1',
  'hasOwnProperty=1',
  'limit=1&limit=2',
  'year=%ED%A0%80',
]

const PATH_JUNK: unknown[] = [
  ...ODD_IDS,
  ...ODD_INTEGERS,
  'abc',
  '\uD800',
  'é',
  '🙂',
  new Raw(''),
  new Raw('..'),
  new Raw('.'),
  new Raw('a/b'),
  new Raw('%2F'),
  new Raw('%00'),
  new Raw('%'),
  new Raw('%ZZ'),
  new Raw('%ED%A0%80'),
  new Raw('%C0%AE%C0%AE'),
  new Raw('%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%94'),
  new Huge(101, 'a'),
  new Huge(5_000, '9'),
]

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

// ---- valid values, by field name ----

const TEXT = [
  '保山市某某农业开发有限公司',
  '小粒咖啡 200 箱',
  'Lincang Tea Co.',
  '普洱茶（熟茶）',
  'a',
  '麦盖提县 红枣 50kg',
]
const text = (max: number) =>
  fc.oneof(
    fc.constantFrom(...TEXT.filter((s) => s.length <= max)),
    fc.string({ minLength: 1, maxLength: Math.min(max, 40) }).filter((s) => s.trim() !== ''),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: Math.min(max, 12) }),
  )

const pad = (n: number) => String(n).padStart(2, '0')
const DAY_MS = 86_400_000
const FIRST_DAY = Date.UTC(2024, 0, 1)
/** FIXED_NOW is 2026-03-15: the last day a record may carry. */
const LAST_DAY = Date.UTC(2026, 2, 15)
const dateArb = fc
  .integer({ min: 0, max: (LAST_DAY - FIRST_DAY) / DAY_MS })
  .map((d) => new Date(FIRST_DAY + d * DAY_MS).toISOString().slice(0, 10))

/** Fen as yuan: "12.34", "12.30", or "12" when whole. */
const yuanOf = (fen: number) =>
  fen % 100 === 0 ? String(fen / 100) : `${Math.floor(fen / 100)}.${pad(fen % 100)}`

/** Mostly small amounts (so totals stay readable), sometimes the smallest or the largest one. */
const moneyArb = fc
  .oneof(
    { weight: 8, arbitrary: fc.integer({ min: 1, max: 100_000_000 }) },
    { weight: 1, arbitrary: fc.constantFrom(1, 100, 999_999_999_999) },
  )
  .map(yuanOf)

const CREDIT_CODES = ['91530500MA6K1234X', '91310112MA1GBXXX1', '12310000425011233N'].map((p) =>
  validCreditCode(p.slice(0, 17)),
)

const TARGET_SHAPES: Record<string, [kind: string, scope: string]> = {
  wholesale: ['amount', 'district'],
  union_welfare: ['amount', 'district'],
  enterprise: ['amount', 'district'],
  canteen: ['share', 'per_unit'],
  market_sales: ['amount', 'per_region'],
}
const targetsArb = fc.subarray(Object.keys(TARGET_SHAPES)).chain((channels) =>
  fc.tuple(
    ...channels.map((channel) => {
      const [kind, scope] = TARGET_SHAPES[channel]!
      const value =
        kind === 'share'
          ? fc.integer({ min: 1, max: 100 }).map((p) => (p === 100 ? '1' : `0.${pad(p)}`))
          : moneyArb
      return value.map((v) => ({ channel, kind, value: v, scope }))
    }),
  ),
)

const pick = (kind: ConstructorParameters<typeof Pick>[0]) => fc.nat().map((n) => new Pick(kind, n))

/** Values for fields and parameters known by name, drawn from the fixtures; others follow their schema. */
const BY_NAME: Record<string, fc.Arbitrary<unknown>> = {
  org_id: pick('org'),
  region_code: pick('region'),
  cursor: pick('cursor'),
  entity_id: pick('anyId'),
  'idempotency-key': pick('idemKey'),
  year: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(2024, 2025, 2026) },
    { weight: 1, arbitrary: fc.integer({ min: 2000, max: 2100 }) },
  ),
  month: fc.integer({ min: 1, max: 12 }),
  occurred_on: dateArb,
  from: dateArb,
  to: dateArb,
  as_of: dateArb,
  amount: moneyArb,
  canteen_total: moneyArb,
  supplier_credit_code: fc.oneof(fc.constantFrom(...CREDIT_CODES), fc.constant(null)),
  voucher_no: fc.oneof(
    fc.integer({ min: 1, max: 20 }).map((n) => `FZ-${n}`),
    fc.nat().map((n) => `FP${n}`),
    fc.constant(null),
  ),
  targets: targetsArb,
  entity: fc.constantFrom('purchase', 'org', 'api_key', 'targets', 'canteen_budget', 'region'),
  limit: fc.integer({ min: 1, max: 60 }),
}

/** The path parameter `id` names a record of the resource its path is about. */
const idOf = (path: string) =>
  path.startsWith('/v1/orgs')
    ? pick('org')
    : path.startsWith('/v1/api-keys')
      ? pick('victimKey')
      : pick('purchase')

/** A value valid for the schema (as far as the schema says), by field name first. */
function arbOf(schema: JsonSchema, name: string): fc.Arbitrary<unknown> {
  const named = BY_NAME[name]
  if (named) return named
  const s = deref(schema)
  const branches = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined
  if (branches) return fc.oneof(...branches.map((b) => arbOf(b, name)))
  if ('const' in s) return fc.constant(s.const)
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum)
  switch (s.type) {
    case 'string':
      if (typeof s.pattern === 'string' && s.format !== 'uuid')
        return fc.stringMatching(new RegExp(s.pattern))
      if (s.format === 'uuid') return fc.uuid()
      return text((s.maxLength as number | undefined) ?? 200)
    case 'integer':
      return fc.integer({ min: (s.minimum as number) ?? -1000, max: (s.maximum as number) ?? 1000 })
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(arbOf(s.items as JsonSchema, name), {
        minLength: (s.minItems as number) ?? 0,
        maxLength: Math.min((s.maxItems as number) ?? 3, 3),
      })
    default: {
      const properties = (s.properties ?? {}) as Record<string, JsonSchema>
      const model = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, arbOf(v, k)]))
      return fc.record(model, { requiredKeys: (s.required as string[] | undefined) ?? [] })
    }
  }
}

// ---- CSV import files ----

const CSV_COLUMNS = [
  'channel',
  'amount',
  'occurred_on',
  'org_id',
  'region_code',
  'supplier',
  'supplier_credit_code',
  'product',
  'voucher_no',
  'external_ref',
  'note',
] as const
const CSV_REQUIRED = ['channel', 'amount', 'occurred_on', 'region_code', 'supplier']
const CHINESE_HEADER: Record<string, string> = {
  channel: '渠道',
  amount: '金额（元）',
  occurred_on: '发生日期',
  org_id: '单位编号',
  region_code: '地区代码',
  supplier: '供应商',
  voucher_no: '凭证号',
  note: '备注',
}
const CHANNEL_CELLS = [
  'wholesale',
  'union_welfare',
  'enterprise',
  'canteen',
  'market_sales',
  '大宗批发',
  '食堂预留',
]

const CSV_CELL: Record<string, fc.Arbitrary<unknown>> = {
  channel: fc.constantFrom(...CHANNEL_CELLS),
  amount: fc.oneof(moneyArb, fc.constantFrom('1,234.50', '12,000')),
  occurred_on: fc.oneof(
    dateArb,
    dateArb.map((d) => d.replaceAll('-0', '/').replaceAll('-', '/')),
  ),
  org_id: pick('org'),
  region_code: pick('region'),
  supplier: text(200),
  supplier_credit_code: fc.constantFrom(...CREDIT_CODES, ''),
  product: fc.oneof(text(200), fc.constant('')),
  voucher_no: fc.oneof(
    fc.integer({ min: 1, max: 20 }).map((n) => `FZ-${n}`),
    fc.nat().map((n) => `FC${n}`),
    fc.constant(''),
  ),
  external_ref: fc.oneof(text(200), fc.constant('')),
  note: fc.oneof(text(2000), fc.constant('')),
}

const csvColumns = fc
  .tuple(fc.subarray(CSV_COLUMNS.filter((c) => !CSV_REQUIRED.includes(c))), fc.boolean())
  .chain(([optional, chinese]) =>
    fc
      .shuffledSubarray([...CSV_REQUIRED, ...optional], { minLength: CSV_REQUIRED.length + optional.length })
      .map((columns) => ({ columns, chinese })),
  )

const validCsv: fc.Arbitrary<CsvSpec> = csvColumns.chain(({ columns, chinese }) =>
  fc.record({
    header: fc.constant(columns.map((c) => (chinese && CHINESE_HEADER[c]) || c)),
    rows: fc.array(fc.tuple(...columns.map((c) => CSV_CELL[c]!)), { minLength: 1, maxLength: 8 }),
    bom: fc.boolean(),
    eol: fc.constantFrom('\r\n', '\n'),
    quoteAll: fc.boolean(),
    gbk: fc.constant(false),
  }),
)

/** What can go wrong in a file: junk cells and headers, ragged rows, encodings, stray bytes. */
const csvMutation = fc.oneof(
  fc.record({ kind: fc.constant('cell'), n: fc.nat(), value: oddShortString }),
  fc.record({ kind: fc.constant('ragged'), n: fc.nat(), extra: fc.integer({ min: -3, max: 3 }) }),
  fc.record({
    kind: fc.constant('header'),
    value: fc.oneof(oddString, fc.constantFrom('amount', '', 'id', 'status')),
  }),
  fc.record({ kind: fc.constant('encoding') }),
  fc.record({ kind: fc.constant('eol'), value: fc.constantFrom('\r', '\n\n', '\r\r\n', '\u2028') }),
  fc.record({
    kind: fc.constant('bytes'),
    at: fc.constantFrom('replace', 'append', 'prepend'),
    bytes: fc.oneof(
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }),
      fc.constantFrom(
        [0xef, 0xbb, 0xbf],
        [0xc3, 0x28],
        [0xff],
        [0x00],
        [0xed, 0xa0, 0x80],
        [0x22],
        [0xe4, 0xb8],
      ),
    ),
  }),
  fc.record({ kind: fc.constant('voided'), n: fc.nat() }),
  fc.record({ kind: fc.constant('empty'), value: fc.constantFrom('', '\r\n', '\n\n\n', ',,,\r\n', '"') }),
  fc.record({ kind: fc.constant('wide'), count: fc.integer({ min: 12, max: 3_000 }) }),
)

type CsvMutation = typeof csvMutation extends fc.Arbitrary<infer M> ? M : never

function mutateCsv(spec: CsvSpec, m: CsvMutation): [CsvSpec, string] {
  const rows = spec.rows.map((r) => [...r])
  switch (m.kind) {
    case 'cell': {
      const row = rows[m.n % Math.max(rows.length, 1)]
      if (row) row[Math.floor(m.n / 7) % row.length] = m.value
      return [{ ...spec, rows }, 'csv.cell']
    }
    case 'ragged': {
      const row = rows[m.n % Math.max(rows.length, 1)]
      if (row && m.extra < 0) row.splice(m.extra)
      if (row && m.extra > 0) row.push(...Array.from({ length: m.extra }, () => 'x'))
      return [{ ...spec, rows }, 'csv.ragged']
    }
    case 'header':
      return [{ ...spec, header: [...spec.header, m.value] }, 'csv.header']
    case 'encoding':
      // The other encoding than the query names: GBK sent as UTF-8, or UTF-8 sent with ?encoding=gbk.
      return [{ ...spec, gbk: !spec.gbk }, 'csv.encoding']
    case 'eol':
      return [{ ...spec, eol: m.value }, 'csv.eol']
    case 'bytes':
      return [{ ...spec, junk: { at: m.at, bytes: m.bytes } }, `csv.bytes.${m.at}`]
    case 'voided':
      return [
        {
          ...spec,
          header: [...spec.header, 'status'],
          rows: rows.map((r, i) => [...r, i === 0 ? 'voided' : 'active']),
        },
        'csv.voided',
      ]
    case 'empty':
      return [
        { ...spec, header: [], rows: [], junk: { at: 'replace', bytes: [...Buffer.from(m.value)] } },
        'csv.empty',
      ]
    case 'wide':
      return [{ ...spec, header: [...spec.header, ...Array.from({ length: m.count }, () => '')] }, 'csv.wide']
  }
}

// ---- mutations of a request ----

const jsonBody = (op: Operation) => op.body !== undefined && op.body.contentType !== 'text/csv'
const hasQuery = (op: Operation) => op.parameters.some((p) => p.in === 'query')
const hasPath = (op: Operation) => op.parameters.some((p) => p.in === 'path')
const hasIdempotencyKey = (op: Operation) => op.parameters.some((p) => p.name === 'idempotency-key')
const hasBody = (op: Operation) => op.body !== undefined
const always = () => true

/** Every kind of mutation, with its weight and the operations it applies to. */
const MUTATIONS = [
  {
    weight: 6,
    applies: jsonBody,
    arbitrary: fc.record({ kind: fc.constant('body.set'), n: fc.nat(), value: oddValue }),
  },
  { weight: 2, applies: jsonBody, arbitrary: fc.record({ kind: fc.constant('body.delete'), n: fc.nat() }) },
  {
    weight: 2,
    applies: jsonBody,
    arbitrary: fc.record({
      kind: fc.constant('body.extra'),
      n: fc.nat(),
      key: fc.constantFrom(
        'extra',
        '__proto__',
        'constructor',
        'ORG_ID',
        'amount ',
        'id',
        'status',
        'created_by',
        '',
      ),
      value: oddValue,
    }),
  },
  {
    weight: 1,
    applies: jsonBody,
    arbitrary: fc.record({
      kind: fc.constant('body.replace'),
      value: fc.oneof(oddValue, fc.constant(new Many(1001, { a: 1 }))),
    }),
  },
  {
    weight: 2,
    applies: jsonBody,
    arbitrary: fc.record({
      kind: fc.constant('body.raw'),
      text: fc.oneof(fc.constantFrom(...MALFORMED_JSON), fc.constant(new Huge(100_000, '['))),
    }),
  },
  {
    weight: 1,
    applies: jsonBody,
    arbitrary: fc.record({ kind: fc.constant('body.dupkey'), value: oddValue }),
  },
  {
    weight: 5,
    applies: hasQuery,
    arbitrary: fc.record({
      kind: fc.constant('query.set'),
      n: fc.nat(),
      value: fc.oneof(oddShortString, fc.constantFrom(...ODD_INTEGERS)),
    }),
  },
  { weight: 1, applies: hasQuery, arbitrary: fc.record({ kind: fc.constant('query.drop'), n: fc.nat() }) },
  {
    weight: 2,
    applies: (op: Operation) => op.parameters.some((p) => p.name === 'cursor'),
    arbitrary: fc.record({ kind: fc.constant('query.forged-cursor'), value: pick('forgedCursor') }),
  },
  {
    weight: 1,
    applies: always,
    arbitrary: fc.record({
      kind: fc.constant('query.extra'),
      key: fc.constantFrom('foo', 'org_id', 'year', 'limit', 'dry_run', 'format'),
      value: oddShortString,
    }),
  },
  {
    weight: 1,
    applies: always,
    arbitrary: fc.record({ kind: fc.constant('query.raw'), text: fc.constantFrom(...QUERY_JUNK) }),
  },
  {
    weight: 4,
    applies: hasPath,
    arbitrary: fc.record({
      kind: fc.constant('path.set'),
      n: fc.nat(),
      value: fc.constantFrom(...PATH_JUNK),
    }),
  },
  {
    weight: 1,
    applies: hasPath,
    arbitrary: fc.record({ kind: fc.constant('path.random'), n: fc.nat(), value: fc.uuid() }),
  },
  {
    weight: 2,
    applies: hasIdempotencyKey,
    arbitrary: fc.record({
      kind: fc.constant('header.idempotency'),
      value: fc.oneof(fc.constantFrom(...IDEMPOTENCY_KEYS), pick('idemKey')),
    }),
  },
  {
    weight: 3,
    applies: hasBody,
    arbitrary: fc.record({
      kind: fc.constant('header.content-type'),
      value: fc.constantFrom(...CONTENT_TYPES),
    }),
  },
  { weight: 1, applies: always, arbitrary: fc.record({ kind: fc.constant('header.other'), n: fc.nat() }) },
  {
    weight: 1,
    applies: always,
    arbitrary: fc.record({ kind: fc.constant('method'), value: fc.constantFrom(...METHODS) }),
  },
]

type Mutation = (typeof MUTATIONS)[number]['arbitrary'] extends fc.Arbitrary<infer M> ? M : never

/** The mutations that apply to an operation (body ones only with a JSON body, and so on). */
const mutationsFor = (op: Operation): fc.Arbitrary<Mutation> =>
  fc.oneof(...MUTATIONS.filter((m) => m.applies(op)).map(({ weight, arbitrary }) => ({ weight, arbitrary })))

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number }

/** Every field and array element of a JSON body, outermost first. */
function slotsOf(value: unknown, out: Slot[] = []): Slot[] {
  // Only plain objects and arrays: a Pick, Huge or Many is a leaf (and may be shared between requests).
  if (!Array.isArray(value) && !isPlainObject(value)) return out
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.entries(value)
  for (const [key, child] of entries) {
    out.push({ parent: value as Slot['parent'], key })
    slotsOf(child, out)
  }
  return out
}

const clone = (v: unknown): unknown => {
  if (v instanceof Pick || v instanceof Huge || v instanceof Many) return v
  if (Array.isArray(v)) return v.map(clone)
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]))
  return v
}

/** Applies one mutation; the label, or undefined when it does not apply to this request. */
function mutate(d: Draft, m: Mutation): string | undefined {
  const jsonBody = d.body.kind === 'json' ? d.body : undefined
  switch (m.kind) {
    case 'body.set':
    case 'body.delete':
    case 'body.extra': {
      if (!jsonBody) return undefined
      const value = clone(jsonBody.value)
      const slots = slotsOf(value)
      if (slots.length === 0) return undefined
      const { parent, key } = slots[m.n % slots.length]!
      if (m.kind === 'body.set') (parent as Record<string, unknown>)[key] = m.value
      else if (m.kind === 'body.delete')
        Array.isArray(parent)
          ? parent.splice(Number(key), 1)
          : delete (parent as Record<string, unknown>)[key]
      else {
        // An extra member on the object holding the field (an array's first item); defineProperty so that
        // "__proto__" is an own member, as JSON would make it.
        const target = Array.isArray(parent) ? parent[0] : parent
        if (!isPlainObject(target)) return undefined
        Object.defineProperty(target, m.key, {
          value: m.value,
          enumerable: true,
          writable: true,
          configurable: true,
        })
      }
      d.body = { kind: 'json', value }
      return m.kind
    }
    case 'body.replace':
      if (!d.op.body) return undefined
      d.body = { kind: 'json', value: m.value }
      return m.kind
    case 'body.raw':
      if (!d.op.body) return undefined
      d.body = { kind: 'text', text: m.text }
      return m.kind
    case 'body.dupkey':
      if (!isPlainObject(jsonBody?.value) || Object.keys(jsonBody.value).length === 0) return undefined
      d.body = { kind: 'duplicate', value: jsonBody.value, first: m.value }
      return m.kind
    case 'query.set':
    case 'query.drop': {
      const params = d.op.parameters.filter((p) => p.in === 'query')
      if (params.length === 0) return undefined
      const name = params[m.n % params.length]!.name
      d.query = d.query.filter(([k]) => k !== name)
      if (m.kind === 'query.set') d.query.push([name, m.value])
      return `${m.kind}.${name}`
    }
    case 'query.forged-cursor':
      d.query = [...d.query.filter(([k]) => k !== 'cursor'), ['cursor', m.value]]
      return m.kind
    case 'query.extra':
      d.query.push([m.key, m.value])
      return m.kind
    case 'query.raw':
      d.rawQuery = m.text
      return m.kind
    case 'path.set':
    case 'path.random': {
      const names = Object.keys(d.path)
      if (names.length === 0) return undefined
      const name = names[m.n % names.length]!
      d.path[name] = m.value
      return `${m.kind}.${name}`
    }
    case 'header.idempotency':
      if (d.method !== 'POST' || !d.op.parameters.some((p) => p.name === 'idempotency-key')) return undefined
      d.headers['idempotency-key'] = m.value
      return m.kind
    case 'header.content-type':
      if (!d.op.body) return undefined
      d.contentType = m.value
      return m.kind
    case 'header.other': {
      const [name, value] = OTHER_HEADERS[m.n % OTHER_HEADERS.length]!
      d.headers[name] = value
      return `header.${name}`
    }
    case 'method': {
      const routed = operations.filter((o) => o.path === d.op.path).map((o) => o.method)
      if (routed.includes(m.value) || (m.value === 'HEAD' && routed.includes('GET'))) return undefined
      d.method = m.value
      return m.kind
    }
  }
}

// ---- whole requests ----

const principalArb = fc.oneof(
  ...(
    [
      ['admin', 4],
      ['owner', 4],
      ['finance', 2],
      ['stranger', 2],
      ['none', 1],
      ['bad', 1],
      ['revoked', 1],
    ] as [PrincipalName, number][]
  ).map(([p, weight]) => ({ weight, arbitrary: fc.constant(p) })),
)

/** A valid request to `op` (as far as schemas and fixtures go) from a random principal. */
function validDraft(op: Operation): fc.Arbitrary<Draft> {
  const params = op.parameters
  const arbParam = (p: (typeof params)[number]) =>
    p.in === 'path' && p.name === 'id' ? idOf(op.path) : arbOf(p.schema, p.name)
  const pathArb = fc.record(
    Object.fromEntries(params.filter((p) => p.in === 'path').map((p) => [p.name, arbParam(p)])),
  )
  const queryParams = params.filter((p) => p.in === 'query')
  const queryArb = fc.record(Object.fromEntries(queryParams.map((p) => [p.name, arbParam(p)])), {
    requiredKeys: queryParams.filter((p) => p.required).map((p) => p.name),
  })
  const headerArb = fc.record(
    Object.fromEntries(params.filter((p) => p.in === 'header').map((p) => [p.name, arbParam(p)])),
    { requiredKeys: [] },
  )
  const bodyArb: fc.Arbitrary<Body> = !op.body
    ? fc.constant({ kind: 'none' })
    : op.body.contentType === 'text/csv'
      ? validCsv.map((csv) => ({ kind: 'csv', csv }))
      : arbOf(op.body.schema, '').map((value) => ({ kind: 'json', value }))
  return fc
    .record({
      principal: principalArb,
      authN: fc.nat(),
      path: pathArb,
      query: queryArb,
      headers: headerArb,
      body: bodyArb,
    })
    .map((r) => {
      const query = coherentQuery(Object.entries(r.query))
      // A valid file is in the encoding the query names.
      const gbk = query.some(([k, v]) => k === 'encoding' && v === 'gbk')
      const body: Body =
        r.body.kind === 'csv'
          ? { kind: 'csv', csv: { ...r.body.csv, gbk } }
          : r.body.kind === 'json'
            ? { kind: 'json', value: coherentBody(r.body.value, r.principal, r.authN) }
            : r.body
      return { op, method: op.method, ...r, query, body, mutations: [] }
    })
}

/**
 * Rules the schemas cannot say: a reporter key names an org and no other key does; an admin's purchase names
 * its org (a reporter's may leave it out).
 */
function coherentBody(value: unknown, principal: PrincipalName, n: number): unknown {
  if (Array.isArray(value)) return value.map((v) => coherentBody(v, principal, n))
  if (!isPlainObject(value)) return value
  const out = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, coherentBody(v, principal, n)]))
  if ('role' in out) {
    if (out.role === 'reporter') out.org_id ??= new Pick('org', n)
    else delete out.org_id
  }
  if ('supplier' in out && 'amount' in out && principal !== 'owner' && principal !== 'stranger') {
    out.org_id ??= new Pick('org', n)
  }
  return out
}

/** An `as_of` mostly inside the asked year (else it is a 400 every time). */
function coherentQuery(query: [string, unknown][]): [string, unknown][] {
  const year = query.find(([k]) => k === 'year')?.[1]
  return query.map(([k, v]) =>
    k === 'as_of' && typeof year === 'number' && typeof v === 'string' && !v.endsWith('0')
      ? [k, `${year}${v.slice(4)}`.replace(/-02-29$/, '-02-28')]
      : [k, v],
  )
}

/**
 * A request to `op`: valid four times in ten; else mutated — an import's file (one or two file mutations)
 * four times in ten, then one to three request mutations.
 */
function draftArb(op: Operation): fc.Arbitrary<Draft> {
  const csvMutations =
    op.body?.contentType === 'text/csv'
      ? fc.array(csvMutation, { minLength: 1, maxLength: 2 })
      : fc.constant([] as CsvMutation[])
  return fc
    .tuple(
      validDraft(op),
      fc.integer({ min: 0, max: 9 }),
      fc.array(mutationsFor(op), { minLength: 1, maxLength: 3 }),
      csvMutations,
    )
    .map(([d, roll, ms, cms]) => {
      if (roll < 4) return { ...d, mutations: ['valid'] }
      if (roll < 8 && d.body.kind === 'csv') {
        for (const cm of cms) {
          const [csv, label] = mutateCsv((d.body as { csv: CsvSpec }).csv, cm)
          d.body = { kind: 'csv', csv }
          d.mutations.push(label)
        }
        return d
      }
      for (const m of ms) {
        const label = mutate(d, m)
        if (label) d.mutations.push(label)
      }
      // None applied (a body with no field to change, say): the request is still valid.
      if (d.mutations.length === 0) d.mutations.push('valid')
      return d
    })
}

/** A request to any operation of the document; the import (whose files vary most) three times as often. */
export const anyDraftArb = (ops: Operation[]) =>
  fc.oneof(
    ...ops.map((op) => ({ weight: op.body?.contentType === 'text/csv' ? 3 : 1, arbitrary: draftArb(op) })),
  )
