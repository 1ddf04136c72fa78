import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Deps } from '../../deps.js'
import { problemBody, problemSchema } from '../../errors.js'

const status = z.object({ status: z.string() })

/** Liveness and readiness, open without a key (load balancers and orchestrators call them). */
export const healthRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.get(
    '/healthz',
    {
      schema: { tags: ['operations'], summary: 'The process is up', security: [], response: { 200: status } },
    },
    async () => ({ status: 'ok' }),
  )
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'The database answers',
        security: [],
        response: { 200: status, 503: problemSchema.describe('The database does not answer') },
      },
    },
    async (request, reply) => {
      try {
        await deps.database.ping()
        return { status: 'ready' }
      } catch (err) {
        request.log.warn({ err: { message: (err as Error).message } }, 'readiness check failed')
        return reply
          .code(503)
          .type('application/problem+json')
          .send(problemBody('service_unavailable', 503, 'The database does not answer.'))
      }
    },
  )
}
