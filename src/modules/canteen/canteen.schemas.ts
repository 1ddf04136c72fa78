import { z } from 'zod'
import { moneyInput, moneyOutput, uuidSchema, yearSchema } from '../../schemas.js'

export const canteenParams = z.strictObject({ year: yearSchema, org_id: uuidSchema })
export const canteenYearParams = z.strictObject({ year: yearSchema })

export const putCanteenBudgetBody = z.strictObject({
  canteen_total: moneyInput.meta({
    description: "The unit's declared canteen agricultural-product procurement total for the year, in yuan",
    example: '820000.00',
  }),
})

const canteenUnitSchema = z
  .object({
    org_id: z.uuid(),
    org_name: z.string(),
    canteen_total: moneyOutput.nullable().meta({ description: 'Declared total; null when not declared' }),
    reserved: moneyOutput.nullable().meta({
      description:
        "canteen_total × the year's canteen ratio, rounded up to the fen; null when not declared or the year has no canteen target",
    }),
    purchased: moneyOutput.meta({ description: "The unit's active canteen-channel amount in the year" }),
    share: z
      .number()
      .nullable()
      .meta({ description: 'purchased / canteen_total, half-up to 4 places; null when not declared' }),
    met: z.boolean().nullable().meta({ description: 'purchased ≥ reserved; null when reserved is null' }),
  })
  .meta({ id: 'CanteenUnit' })
export type CanteenUnitOut = z.infer<typeof canteenUnitSchema>

export const canteenBudgetSchema = canteenUnitSchema
  .extend({ year: z.number().int() })
  .meta({ id: 'CanteenBudget' })
export type CanteenBudgetOut = z.infer<typeof canteenBudgetSchema>

export const canteenListSchema = z
  .object({ year: z.number().int(), items: z.array(canteenUnitSchema) })
  .meta({ id: 'CanteenBudgetList' })
