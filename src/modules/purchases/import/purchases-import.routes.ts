import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Deps } from '../../../deps.js'
import { AppError } from '../../../errors.js'
import { charsetOf } from '../../../http/charset.js'
import { idempotentRequestOf, sendOutcome } from '../../../http/idempotent-request.js'
import { bodySha256, readBody } from '../../../http/read-body.js'
import { IDEMPOTENCY_DESCRIPTION } from '../../../idempotency/idempotency.js'
import { CHANNEL_LABELS, errorResponses, moneyOutput, uuidSchema } from '../../../schemas.js'
import { dryRunResult } from '../purchases.schemas.js'
import { CSV_ENCODINGS, type CsvEncoding } from './csv-reader.js'
import { MAX_REPORTED_ERRORS } from './import-problems.js'
import { createPurchasesImportService } from './purchases-import.service.js'

/** The contract's limit for a CSV import body; larger bodies get 413 `payload_too_large`. */
const CSV_BODY_LIMIT = 64 * 1024 * 1024

const DESCRIPTION = `Body: a CSV file (\`Content-Type: text/csv\`, at most 64 MiB, at least 100 000 rows), as Excel saves it.
Row 1 is the header: the create-body field names or the Chinese headers of shared/domain.md (渠道, 金额（元）/金额,
发生日期/日期, 单位编号, 地区代码, 供应商, 统一社会信用代码, 产品, 凭证号/发票号码, 外部编号, 备注), in any order, each at most once.
The columns an export adds (\`id\`, \`year\`, \`status\`, \`created_at\`, \`voided_at\`, \`void_reason\`, or their Chinese
titles) are accepted and ignored, so an export can be imported as it is, except that a row whose \`status\` is
\`voided\` is refused (it would count again). Any other header → 400 at \`/rows/1/<header>\`.

Cells: UTF-8 with or without BOM, or GBK with \`?encoding=gbk\` (Excel "CSV" on Chinese Windows); CRLF or LF; quoted
cells may hold commas, quotes and line breaks. A row has at most 16 384 cells (Excel's widest sheet) and a cell
at most 64 KiB, else 400 at that row. Empty cells are absent optional fields; rows with every cell empty
are skipped. \`channel\` may be the code or the Chinese label (${Object.values(CHANNEL_LABELS).join(', ')}); \`amount\`
may carry well-formed thousands separators (\`1,234.50\`); \`occurred_on\` may be written \`2024/5/20\` as Excel does.
A leading apostrophe before \`= + - @\` (how our export protects text from Excel formulas) is removed.

Org: reporters import into their own org (an \`org_id\` column, if any, must name it, else 403). Admin keys give
\`org_id\` per row, or \`?org_id=\` to record every row for that org, ignoring the file's \`org_id\` column — the way
to import one org's export into another org.

All or nothing, in one transaction: any problem → 400 listing every problem (up to ${MAX_REPORTED_ERRORS}) with
\`errors[].path\` \`/rows/<row>/<field>\`, where \`<row>\` is the row number a spreadsheet shows (header = 1; a cell
with line breaks does not shift it); voucher clashes → 409 \`duplicate_voucher\` listing every clashing row. A
file that is not valid text in the chosen encoding (for example GBK sent without \`?encoding=gbk\`, or UTF-8 sent
with it) → 400 saying so; a \`charset\` parameter in Content-Type naming another encoding than the one chosen → 415.
\`Idempotency-Key\` fingerprints the raw bytes and the query. Imports and exports running at once are limited per
API key and per instance (\`BULK_CONCURRENCY_PER_KEY\`, \`BULK_CONCURRENCY\`): beyond either, 429 \`rate_limited\` with
\`Retry-After\`, before the body is read.`

const importQuery = z.strictObject({
  encoding: z
    .enum(CSV_ENCODINGS)
    .default('utf-8')
    .meta({ description: '`gbk` for CSV saved by Excel on Chinese Windows; UTF-8 may carry a BOM' }),
  dry_run: z
    .enum(['true', 'false'])
    .default('false')
    .meta({ description: 'true: run every check, store nothing, answer 200 with what would have happened' }),
  org_id: uuidSchema.optional().meta({
    description:
      "Record every row for this org (the file's org_id column is ignored); reporters: their own org only",
  }),
})

const csvBody = z
  .instanceof(Buffer, { error: 'send the CSV file as the request body with Content-Type: text/csv' })
  .meta({
    type: 'string',
    description: 'CSV file, header row first',
    example:
      'channel,amount,occurred_on,region_code,supplier\r\n大宗批发,"1,234.50",2024/5/20,530502,保山市某某农业开发有限公司\r\n',
  })

/** The names a Content-Type `charset` may give each encoding. */
const CHARSETS = new Map<string, CsvEncoding>([
  ['utf-8', 'utf-8'],
  ['utf8', 'utf-8'],
  ['gbk', 'gbk'],
  ['gb2312', 'gbk'],
  ['cp936', 'gbk'],
])

/**
 * A `charset` parameter, when sent, must name the encoding the file is read in (`?encoding`, UTF-8 by
 * default): else 415, before the body is read. (An unknown `?encoding` is left to validation: 400.)
 */
function charsetMismatch(contentType: string | undefined, query: unknown): AppError | undefined {
  const charset = charsetOf(contentType)
  const encoding = (query as { encoding?: unknown }).encoding ?? 'utf-8'
  if (charset === undefined || !CSV_ENCODINGS.includes(encoding as CsvEncoding)) return undefined
  const named = CHARSETS.get(charset)
  if (named === encoding) return undefined
  const detail = named
    ? `Content-Type says charset=${charset} but the file is read as ${encoding}: send ?encoding=${named}.`
    : `charset=${charset.slice(0, 40)} is not supported: send the CSV as UTF-8, or GBK with ?encoding=gbk.`
  return new AppError('unsupported_media_type', 415, detail)
}

export const purchasesImportRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createPurchasesImportService(deps)

  // This plugin's routes take CSV only: a JSON body here is a 415, like any other wrong type. The bytes are
  // kept raw (not decoded) so the encoding can be checked and the idempotency fingerprint covers them.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('text/csv', (request, payload, done) => {
    const mismatch = charsetMismatch(request.headers['content-type'], request.query)
    if (mismatch) done(mismatch)
    else readBody(payload, request.headers['content-length'], CSV_BODY_LIMIT, done)
  })

  app.post(
    '/purchases/import',
    {
      bodyLimit: CSV_BODY_LIMIT,
      config: { roles: ['admin', 'reporter'], bulk: true },
      schema: {
        tags: ['purchases'],
        summary: 'Import purchases from a CSV file, all or nothing',
        description: DESCRIPTION,
        consumes: ['text/csv'],
        headers: z.object({
          'idempotency-key': z.string().optional().meta({ description: IDEMPOTENCY_DESCRIPTION }),
        }),
        querystring: importQuery,
        body: csvBody,
        response: {
          200: dryRunResult,
          201: z
            .object({ imported: z.number().int(), amount: moneyOutput })
            .meta({ id: 'ImportResult', description: 'How many records were stored and their sum' }),
          ...errorResponses(403, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const bytes = request.body
      const digest = await bodySha256(bytes)
      return sendOutcome(
        reply,
        await service.import(idempotentRequestOf(request, digest), request.principal, bytes, {
          encoding: request.query.encoding,
          dryRun: request.query.dry_run === 'true',
          orgId: request.query.org_id,
        }),
      )
    },
  )
}
