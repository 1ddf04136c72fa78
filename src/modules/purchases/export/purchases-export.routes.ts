import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Deps } from '../../../deps.js'
import { guardStreamedResponse } from '../../../http/streamed-response.js'
import { errorResponses } from '../../../schemas.js'
import { listPurchasesQuery } from '../purchases.schemas.js'
import { chineseTitle, EXPORT_COLUMNS } from '../purchases-columns.js'
import { CONTENT_TYPES, createPurchasesExportService, EXPORT_FORMATS } from './purchases-export.service.js'

const exportQuery = listPurchasesQuery.omit({ limit: true, cursor: true }).extend({
  format: z.enum(EXPORT_FORMATS).default('csv').meta({ description: '`csv` (default) or `xlsx`' }),
})

const DESCRIPTION = `Every record matching the list filters (no paging), streamed a page at a time (at most 1 000 records,
fewer when they hold long text), so the server's memory stays flat however many match; it holds no database
connection while it waits for the client. Order as in the list (\`occurred_on\` descending, then \`id\`). Reporters
export only their own org (an \`org_id\` naming another org → 403). Sent as an attachment (\`Content-Disposition\`,
file name \`purchases_<year|all>_<yyyymmdd>.<format>\`).

**Consistency**: each record at most once. Records stored before the export started are in it; records created
after it started are not (one being written at that very moment may or may not be). A record voided while the export
runs appears as it was when its part of the file was read.

**Limits**: imports and exports running at once are limited per API key and per server (2 and 8 by default);
beyond that → 429 \`rate_limited\` with \`Retry-After\`. A download that receives nothing for 60 s (the client has
stopped reading; \`EXPORT_STALL_TIMEOUT_MS\`) is dropped.

**csv**: UTF-8 with BOM (Excel opens Chinese text correctly), CRLF, RFC 4180 quoting. Header row of English names:
${EXPORT_COLUMNS.map((c) => `\`${c}\``).join(', ')}. Values as in the JSON API (amount with two fraction digits,
RFC 3339 UTC timestamps). Text that starts with \`= + - @\` gets a leading apostrophe so Excel cannot run it as a
formula; the import removes it again. The file can be sent back to \`POST /v1/purchases/import\` as it is (admins add
\`?org_id=\` to import it into another org; voucher numbers must still be free).

**xlsx**: one sheet 采购记录 (continued on further sheets past 1 048 575 rows), header row of Chinese titles
(${EXPORT_COLUMNS.map(chineseTitle).join('、')}), frozen. Amount is a number cell formatted \`#,##0.00\`, the date a
date cell, the year a number, channel and status their Chinese labels (大宗批发…, 有效/已作废), the rest text.

Problems found before the first byte (bad filters, 403, database unavailable) are problem+json; a failure in the
middle of a stream can only cut the download short.`

export const purchasesExportRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createPurchasesExportService(deps)

  app.get(
    '/purchases/export',
    {
      // A HEAD would run the whole export to throw it away.
      exposeHeadRoute: false,
      config: { bulk: true },
      schema: {
        tags: ['purchases'],
        summary: 'Export purchases as CSV or XLSX (streamed)',
        description: DESCRIPTION,
        querystring: exportQuery,
        response: {
          200: {
            description: 'The file, as an attachment',
            content: {
              [CONTENT_TYPES.csv.split(';')[0]!]: {
                schema: z.string().meta({ description: 'CSV, UTF-8 with BOM, CRLF; English header row' }),
              },
              [CONTENT_TYPES.xlsx]: {
                schema: z.string().meta({ format: 'binary', description: 'Office Open XML workbook' }),
              },
            },
          },
          ...errorResponses(403),
        },
      },
    },
    async (request, reply) => {
      const file = await service.export(request.principal, request.query)
      guardStreamedResponse(reply, deps.config.exportStallTimeoutMs)
      return (
        reply
          .header('content-type', file.contentType)
          .header('content-disposition', `attachment; filename="${file.filename}"`)
          .header('cache-control', 'no-store')
          // A stream is piped as it is (no serialiser runs); the 200 schema above documents its bytes.
          .send(file.body as unknown as string)
      )
    },
  )
}
