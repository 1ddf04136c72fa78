import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Deps } from '../../deps.js'
import { idempotentRequestOf, sendOutcome } from '../../http/idempotent-request.js'
import { errorResponses, idParams } from '../../schemas.js'
import { apiKeyList, createApiKeyBody, createdApiKeySchema } from './api-keys.schemas.js'
import { createApiKeysService } from './api-keys.service.js'

export const apiKeysRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createApiKeysService(deps)
  const tags = ['api-keys']
  const config = { roles: ['admin'] as const }

  app.post(
    '/api-keys',
    {
      config,
      schema: {
        tags,
        summary: 'Create an API key (the secret is returned once)',
        body: createApiKeyBody,
        response: { 201: createdApiKeySchema, ...errorResponses(403, 415, 422) },
      },
    },
    async (request, reply) =>
      sendOutcome(
        reply,
        await service.create(idempotentRequestOf(request), request.principal.keyId, request.body),
      ),
  )

  app.get(
    '/api-keys',
    {
      config,
      schema: {
        tags,
        summary: 'List API keys (no secrets)',
        response: { 200: apiKeyList, ...errorResponses(403) },
      },
    },
    async () => service.list(),
  )

  app.delete(
    '/api-keys/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Revoke an API key at once',
        params: idParams,
        response: { 204: z.null().describe('Revoked'), ...errorResponses(403, 404) },
      },
    },
    async (request, reply) => {
      await service.revoke(request.principal.keyId, request.params.id)
      return reply.code(204).send(null)
    },
  )
}
