import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Deps } from '../../deps.js'
import { errorResponses } from '../../schemas.js'
import { putTargetsBody, yearParams, yearTargetsSchema } from './targets.schemas.js'
import { createTargetsService } from './targets.service.js'

export const targetsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createTargetsService(deps)
  const tags = ['targets']

  app.get(
    '/targets/:year',
    {
      schema: {
        tags,
        summary: "A year's targets",
        description:
          'Every role may read. A year without targets answers 200 with `targets: []`. Channels are listed in the fixed order wholesale, union_welfare, enterprise, canteen, market_sales.',
        params: yearParams,
        response: { 200: yearTargetsSchema, ...errorResponses() },
      },
    },
    async (request) => service.get(request.params.year),
  )

  app.put(
    '/targets/:year',
    {
      config: { roles: ['admin'] },
      schema: {
        tags,
        summary: "Replace a year's targets",
        description:
          'Admin only. Replaces the whole set in one transaction (audited as `targets.replaced` with before and after). ' +
          'Each channel at most once, with its fixed kind and scope: `canteen` is `share`/`per_unit` with a ratio string ' +
          '("0.10", > 0 and ≤ 1, at most 4 decimals); `market_sales` is `amount`/`per_region` (the target of each ' +
          'counterpart county); the others are `amount`/`district`. Amounts are money strings > 0. ' +
          'A PUT is idempotent by nature, so no Idempotency-Key is needed.',
        params: yearParams,
        body: putTargetsBody,
        response: { 200: yearTargetsSchema, ...errorResponses(403, 415) },
      },
    },
    async (request) => service.replace(request.principal.keyId, request.params.year, request.body),
  )
}
