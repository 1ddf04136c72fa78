import { z } from 'zod'
import {
  channelSchema,
  dateInput,
  moneyOutput,
  timestampOutput,
  uuidSchema,
  yearSchema,
} from '../../schemas.js'

const asOfInput = dateInput.optional().meta({
  description:
    'Count active records with occurred_on ≤ as_of; must lie in `year`. Default: today (Asia/Shanghai) for the ' +
    'current year, 31 December for a past year; a future year has no default (today lies outside it → 400), ' +
    'so give an as_of inside it to see planning figures.',
})
const orgFilter = uuidSchema.optional().meta({
  description:
    'Narrow every figure to one org. Targets stay the district targets, so progress and pace show that org’s ' +
    'contribution; canteen figures are that unit’s own. An unknown org → 400; a reporter naming another ' +
    'org → 403.',
})

export const totalsQuery = z.strictObject({ year: yearSchema, as_of: asOfInput, org_id: orgFilter })
export type TotalsQuery = z.infer<typeof totalsQuery>

const BREAKDOWN_BY = ['month', 'org', 'region', 'channel'] as const
export const breakdownQuery = z.strictObject({
  year: yearSchema,
  by: z.enum(BREAKDOWN_BY),
  channel: channelSchema.optional().meta({ description: 'Count only this channel' }),
  as_of: asOfInput,
  org_id: orgFilter,
})
export type BreakdownQuery = z.infer<typeof breakdownQuery>

const ratioOut = (description: string) => z.number().nullable().meta({ description })

/** Figures every channel (and every market-sales county) carries. */
const paceFields = {
  total: moneyOutput.meta({ description: 'Sum of active records with occurred_on ≤ as_of' }),
  count: z.number().int(),
  target: moneyOutput.nullable(),
  progress: ratioOut('total / target, half-up to 4 places; null without a target'),
  remaining: moneyOutput.nullable().meta({ description: 'max(target − total, 0); null without a target' }),
  expected_by_now: moneyOutput
    .nullable()
    .meta({ description: 'target × elapsed_days / days_in_year, half-up to the fen; null without a target' }),
  on_track: z.boolean().nullable().meta({ description: 'total ≥ expected_by_now; null without a target' }),
  projected_year_end: moneyOutput
    .nullable()
    .meta({ description: 'total × days_in_year / elapsed_days, half-up to the fen; null without a target' }),
}

const amountChannelTotals = z
  .object({ channel: z.enum(['wholesale', 'union_welfare', 'enterprise']), ...paceFields })
  .meta({ id: 'AmountChannelTotals', description: 'A channel with a district amount target' })

const regionTotalsSchema = z
  .object({
    region_code: z.string(),
    name: z.string(),
    ...paceFields,
    target: moneyOutput.nullable().meta({ description: 'The per-county market sales target' }),
  })
  .meta({ id: 'RegionTotals' })

const marketSalesTotals = z
  .object({
    channel: z.literal('market_sales'),
    ...paceFields,
    target: moneyOutput
      .nullable()
      .meta({ description: 'The per-county target × the number of registered counties' }),
    regions: z.array(regionTotalsSchema).meta({
      description:
        'Every registered counterpart county, zero or not, by code; their totals add up to `total`',
    }),
  })
  .meta({ id: 'MarketSalesTotals' })

const canteenTotals = z
  .object({
    channel: z.literal('canteen'),
    ...paceFields,
    target: moneyOutput.nullable().meta({
      description:
        'The amount the share target asks for: the sum of the declared units’ reserved amounts (= `reserved`); ' +
        'null when the year has no canteen target or no unit declared a budget. progress = total / reserved, ' +
        'remaining and pace are computed against it like any amount target.',
    }),
    target_share: z.string().nullable().meta({ description: 'The year’s canteen ratio ("0.10")' }),
    canteen_total: moneyOutput.meta({ description: 'Sum of the declared canteen procurement totals' }),
    reserved: moneyOutput
      .nullable()
      .meta({ description: 'Sum of the units’ reserved amounts (each rounded up to the fen)' }),
    share: ratioOut('total / canteen_total, half-up to 4 places; null when nothing is declared'),
    units: z.number().int().meta({ description: 'Orgs that declared a budget for the year' }),
    units_met: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'Declared units whose purchases ≤ as_of reach their reserved amount' }),
    units_without_budget: z.number().int().meta({
      description: 'Orgs with canteen purchases ≤ as_of but no declared budget (their purchases count)',
    }),
  })
  .meta({ id: 'CanteenTotals' })

const channelTotalsSchema = z.discriminatedUnion('channel', [
  amountChannelTotals,
  canteenTotals,
  marketSalesTotals,
])
export type ChannelTotalsOut = z.infer<typeof channelTotalsSchema>

export const totalsSchema = z
  .object({
    year: z.number().int(),
    as_of: z.string().meta({ description: 'The date counted up to (inclusive)' }),
    computed_at: timestampOutput,
    channels: z.array(channelTotalsSchema).meta({
      description:
        'All five channels in the order wholesale, union_welfare, enterprise, canteen, market_sales',
    }),
    grand_total: moneyOutput.meta({ description: 'Sum of the channel totals' }),
  })
  .meta({ id: 'Totals' })
export type TotalsOut = z.infer<typeof totalsSchema>

export const breakdownSchema = z
  .object({
    year: z.number().int(),
    by: z.enum(BREAKDOWN_BY),
    as_of: z.string().meta({ description: 'The date counted up to (inclusive)' }),
    rows: z.array(
      z.object({
        key: z.string(),
        label: z.string(),
        total: moneyOutput,
        count: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'Breakdown' })
export type BreakdownOut = z.infer<typeof breakdownSchema>
