import { z } from 'zod'
import { channelSchema, moneyOutput, queryInteger, yearSchema } from '../../schemas.js'

const REPORT_FORMATS = ['json', 'csv', 'xlsx'] as const

export const monthlyReportQuery = z.strictObject({
  year: yearSchema,
  month: queryInteger(
    z.coerce
      .number({ error: 'must be a month 1–12' })
      .int('must be a month 1–12')
      .min(1, 'must be a month 1–12')
      .max(12, 'must be a month 1–12'),
  ),
  format: z.enum(REPORT_FORMATS).default('json'),
})

const progress = z
  .number()
  .nullable()
  .meta({ description: 'ytd_amount / target, half-up to 4 places; null without a target' })

export const monthlyReportSchema = z
  .object({
    year: z.number().int(),
    month: z.number().int(),
    channels: z.array(
      z.object({
        channel: channelSchema,
        month_amount: moneyOutput,
        month_count: z.number().int(),
        ytd_amount: moneyOutput,
        ytd_count: z.number().int(),
        target: moneyOutput.nullable().meta({
          description:
            'The year’s target; market_sales: per-county target × counties; canteen: the sum of the declared units’ reserved amounts (null when none)',
        }),
        progress,
      }),
    ),
    regions: z.array(
      z.object({
        region_code: z.string(),
        name: z.string(),
        month_amount: moneyOutput,
        ytd_amount: moneyOutput,
        target: moneyOutput.nullable().meta({ description: 'The per-county market sales target' }),
        progress,
      }),
    ),
    canteen_units_below: z.array(
      z.object({ org_id: z.uuid(), org_name: z.string(), reserved: moneyOutput, purchased: moneyOutput }),
    ),
  })
  .meta({ id: 'MonthlyReport' })
export type MonthlyReport = z.infer<typeof monthlyReportSchema>
