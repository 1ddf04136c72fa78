import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Deps } from '../../deps.js'
import { parseMoney } from '../../money.js'
import { errorResponses } from '../../schemas.js'
import {
  canteenBudgetSchema,
  canteenListSchema,
  canteenParams,
  canteenYearParams,
  putCanteenBudgetBody,
} from './canteen.schemas.js'
import { createCanteenService } from './canteen.service.js'

export const canteenRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createCanteenService(deps)
  const tags = ['canteen']

  app.put(
    '/canteen-budgets/:year/:org_id',
    {
      config: { roles: ['admin', 'reporter'] },
      schema: {
        tags,
        summary: "Declare a unit's canteen procurement total for a year",
        description:
          'Admin for any org; a reporter only for its own org (another org → 403). Creates or replaces the ' +
          'declaration (audited as `canteen_budget.set` with before and after) and answers with the unit’s ' +
          'figures for the year. A PUT is idempotent by nature, so no Idempotency-Key is needed. Unknown org → 404.',
        params: canteenParams,
        body: putCanteenBudgetBody,
        response: { 200: canteenBudgetSchema, ...errorResponses(403, 404, 415) },
      },
    },
    async (request) =>
      service.set(
        request.principal,
        request.params.year,
        request.params.org_id,
        parseMoney(request.body.canteen_total)!,
      ),
  )

  app.get(
    '/canteen-budgets/:year',
    {
      schema: {
        tags,
        summary: "The year's budget units with their reserved share and what they bought",
        description:
          'One item per unit that declared a budget for the year, plus one per org with active canteen-channel ' +
          'purchases in the year but no declaration (listed with `canteen_total`, `reserved`, `share` and `met` ' +
          'null; its purchases still count). Ordered by org name. `reserved` = canteen_total × the year’s canteen ' +
          'ratio (from the targets), rounded up to the fen; null when the year has no canteen target. `purchased` ' +
          'is the unit’s active canteen amount dated in the year. Admin and finance see every unit; a reporter ' +
          'sees only its own org’s row (district-wide canteen figures are in `GET /v1/totals`).',
        params: canteenYearParams,
        response: { 200: canteenListSchema, ...errorResponses() },
      },
    },
    async (request) => service.list(request.principal, request.params.year),
  )
}
