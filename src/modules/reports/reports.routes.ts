import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Deps } from '../../deps.js'
import { errorResponses } from '../../schemas.js'
import { renderCsv, renderXlsx } from './reports.render.js'
import { monthlyReportQuery, monthlyReportSchema } from './reports.schemas.js'
import { createReportsService } from './reports.service.js'

const CSV_TYPE = 'text/csv; charset=utf-8'
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'

export const reportsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createReportsService(deps)

  app.get(
    '/reports/monthly',
    {
      schema: {
        tags: ['reports'],
        summary: 'The monthly report (每月一报)',
        description:
          'Per channel the month’s amount and count, year to date (1 January to the month’s last day), target ' +
          'and progress (= ytd / target; canteen’s target is the sum of the declared units’ reserved amounts); ' +
          'market sales per registered county; the canteen units whose year-to-date purchases are below their ' +
          'reserved amount (units without a declaration have no reserved amount and are not listed; a reporter ' +
          'sees its own unit only). A month still running shows what is recorded so far. Every role may read. `format=csv`: UTF-8 with BOM, CRLF, ' +
          'three tables (channels with a total row, counties, canteen units) with Chinese and English headers, ' +
          'money as exact decimal strings. `format=xlsx`: one sheet per table with Chinese headers, money as ' +
          'numbers formatted to the fen. Both are sent as attachments.',
        querystring: monthlyReportQuery,
        response: {
          200: {
            description: 'The report, as JSON (default), CSV or XLSX by `format`',
            content: {
              'application/json': { schema: monthlyReportSchema },
              'text/csv': { schema: z.string().meta({ description: 'UTF-8 CSV with BOM' }) },
              [XLSX_TYPE]: { schema: z.string().meta({ format: 'binary', description: 'Excel workbook' }) },
            },
          },
          ...errorResponses(),
        },
      },
    },
    async (request, reply) => {
      const { year, month, format } = request.query
      const report = await service.monthly(request.principal, year, month)
      if (format === 'json') return reply.type('application/json; charset=utf-8').send(report)
      const name = `monthly-report-${year}-${String(month).padStart(2, '0')}.${format}`
      const body = format === 'csv' ? renderCsv(report) : await renderXlsx(report)
      return (
        reply
          .type(format === 'csv' ? CSV_TYPE : XLSX_TYPE)
          .header('content-disposition', `attachment; filename="${name}"`)
          // A Buffer is sent as is (no serialisation); the typed reply only knows the schemas' string stand-ins.
          .send(body as unknown as string)
      )
    },
  )
}
