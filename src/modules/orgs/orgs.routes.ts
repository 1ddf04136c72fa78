import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Deps } from '../../deps.js'
import { idempotentRequestOf, sendOutcome } from '../../http/idempotent-request.js'
import { errorResponses, idParams } from '../../schemas.js'
import { createOrgBody, listOrgsQuery, orgPage, orgSchema, patchOrgBody } from './orgs.schemas.js'
import { createOrgsService } from './orgs.service.js'

export const orgsRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createOrgsService(deps)
  const tags = ['orgs']

  app.post(
    '/orgs',
    {
      config: { roles: ['admin'] },
      schema: {
        tags,
        summary: 'Create an organization',
        description: 'Names are unique: a name already taken → 409 `conflict`.',
        body: createOrgBody,
        response: { 201: orgSchema, ...errorResponses(403, 409, 415, 422) },
      },
    },
    async (request, reply) =>
      sendOutcome(
        reply,
        await service.create(idempotentRequestOf(request), request.principal.keyId, request.body),
      ),
  )

  app.get(
    '/orgs',
    {
      schema: {
        tags,
        summary: 'List organizations (by name)',
        querystring: listOrgsQuery,
        response: { 200: orgPage, ...errorResponses() },
      },
    },
    async (request) => service.list(request.query.limit, request.query.cursor),
  )

  app.get(
    '/orgs/:id',
    {
      schema: {
        tags,
        summary: 'Get an organization',
        params: idParams,
        response: { 200: orgSchema, ...errorResponses(404) },
      },
    },
    async (request) => service.get(request.params.id),
  )

  app.patch(
    '/orgs/:id',
    {
      config: { roles: ['admin'] },
      schema: {
        tags,
        summary: 'Rename or re-classify an organization',
        params: idParams,
        body: patchOrgBody,
        response: { 200: orgSchema, ...errorResponses(403, 404, 409, 415) },
      },
    },
    async (request) => service.update(request.principal.keyId, request.params.id, request.body),
  )
}
