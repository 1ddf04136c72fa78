import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Deps } from '../../deps.js'
import { idempotentRequestOf, sendOutcome } from '../../http/idempotent-request.js'
import { errorResponses } from '../../schemas.js'
import { createRegionBody, regionList, regionSchema } from './regions.schemas.js'
import { createRegionsService } from './regions.service.js'

export const regionsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createRegionsService(deps)
  const tags = ['regions']

  app.get(
    '/regions',
    {
      schema: {
        tags,
        summary: 'List every counterpart region (no paging)',
        response: { 200: regionList, ...errorResponses() },
      },
    },
    async () => service.list(),
  )

  app.post(
    '/regions',
    {
      config: { roles: ['admin'] },
      schema: {
        tags,
        summary: 'Register a counterpart region',
        description:
          'A county named by its six-digit administrative division code; purchases may name it from then on. ' +
          'A code already registered → 409 `conflict`.',
        body: createRegionBody,
        response: { 201: regionSchema, ...errorResponses(403, 409, 415, 422) },
      },
    },
    async (request, reply) =>
      sendOutcome(
        reply,
        await service.create(idempotentRequestOf(request), request.principal.keyId, request.body),
      ),
  )
}
