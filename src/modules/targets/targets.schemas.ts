import { z } from 'zod'
import { MONEY_PATTERN, parseMoney, parseRatioE4 } from '../../money.js'
import { CHANNELS, type Channel, channelSchema, yearSchema } from '../../schemas.js'

const TARGET_KINDS = ['amount', 'share'] as const
const TARGET_SCOPES = ['district', 'per_region', 'per_unit'] as const
type TargetKind = (typeof TARGET_KINDS)[number]
type TargetScope = (typeof TARGET_SCOPES)[number]

/** The only kind and scope each channel's target may have (contract, Targets). */
const CHANNEL_TARGET_SHAPE: Record<Channel, { kind: TargetKind; scope: TargetScope }> = {
  wholesale: { kind: 'amount', scope: 'district' },
  union_welfare: { kind: 'amount', scope: 'district' },
  enterprise: { kind: 'amount', scope: 'district' },
  canteen: { kind: 'share', scope: 'per_unit' },
  market_sales: { kind: 'amount', scope: 'per_region' },
}

const targetSchema = z
  .object({
    channel: channelSchema,
    kind: z.enum(TARGET_KINDS),
    value: z.string().meta({
      description: 'A money string in yuan for `amount` ("50000000.00"), a ratio string for `share` ("0.10")',
    }),
    scope: z.enum(TARGET_SCOPES),
  })
  .meta({ id: 'Target' })
export type TargetOut = z.infer<typeof targetSchema>

export const yearTargetsSchema = z
  .object({ year: z.number().int(), targets: z.array(targetSchema) })
  .meta({ id: 'YearTargets' })
export type YearTargetsOut = z.infer<typeof yearTargetsSchema>

export const yearParams = z.strictObject({ year: yearSchema })

const targetInput = z
  .strictObject({
    channel: channelSchema,
    kind: z.enum(TARGET_KINDS),
    value: z.string({
      error: (iss) =>
        iss.input === undefined
          ? 'required'
          : 'must be a string: a money amount such as "50000000.00" or a ratio such as "0.10" (a JSON number is not accepted)',
    }),
    scope: z.enum(TARGET_SCOPES),
  })
  .superRefine((t, ctx) => {
    const shape = CHANNEL_TARGET_SHAPE[t.channel]
    if (t.kind !== shape.kind) {
      ctx.addIssue({ code: 'custom', path: ['kind'], message: `must be "${shape.kind}" for ${t.channel}` })
    }
    if (t.scope !== shape.scope) {
      ctx.addIssue({ code: 'custom', path: ['scope'], message: `must be "${shape.scope}" for ${t.channel}` })
    }
    if (shape.kind === 'amount' && !(MONEY_PATTERN.test(t.value) && parseMoney(t.value)! > 0n)) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message:
          'must be a decimal string in yuan, > 0, with at most 10 integer digits and 2 fraction digits (e.g. "50000000.00")',
      })
    }
    if (shape.kind === 'share' && parseRatioE4(t.value) === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: 'must be a ratio string greater than 0 and at most 1, with at most 4 decimals (e.g. "0.10")',
      })
    }
  })

export const putTargetsBody = z
  .strictObject({
    targets: z
      .array(targetInput)
      .max(CHANNELS.length, `at most ${CHANNELS.length} targets, one per channel`)
      .meta({
        description:
          'The complete set for the year; channels left out have no target afterwards. An empty list removes every target of the year.',
      }),
  })
  .superRefine((body, ctx) => {
    const seen = new Set<string>()
    body.targets.forEach((t, i) => {
      if (seen.has(t.channel)) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'channel'],
          message: `${t.channel} appears more than once`,
        })
      }
      seen.add(t.channel)
    })
  })
export type PutTargetsBody = z.infer<typeof putTargetsBody>
