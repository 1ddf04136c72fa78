import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Deps } from '../../deps.js'
import { errorResponses } from '../../schemas.js'
import { auditPage, auditQuery } from './audit.schemas.js'
import { createAuditService } from './audit.service.js'

export const auditRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createAuditService(deps)
  app.get(
    '/audit',
    {
      config: { roles: ['admin', 'finance'] },
      schema: {
        tags: ['audit'],
        summary: 'The append-only audit log, newest first',
        description:
          'One row per write, written in the same transaction as the change. The table rejects UPDATE, DELETE and TRUNCATE at the database level; secrets are never recorded.',
        querystring: auditQuery,
        response: { 200: auditPage, ...errorResponses(403) },
      },
    },
    async (request) => service.list(request.query),
  )
}
