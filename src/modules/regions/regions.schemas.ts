import { z } from 'zod'
import { textInput } from '../../schemas.js'

const PROGRAMS = ['east_west_cooperation', 'counterpart_support'] as const

export const regionSchema = z
  .object({
    code: z.string(),
    name: z.string(),
    prefecture: z.string(),
    province: z.string(),
    program: z.enum(PROGRAMS),
  })
  .meta({ id: 'Region' })
export type RegionOut = z.infer<typeof regionSchema>

const text = textInput(100)
export const createRegionBody = z.strictObject({
  code: z.string().regex(/^[0-9]{6}$/, 'must be a 6-digit administrative division code'),
  name: text,
  prefecture: text,
  province: text,
  program: z.enum(PROGRAMS),
})
export const regionList = z.object({ items: z.array(regionSchema) })
