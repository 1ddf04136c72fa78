import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'

export const API_DESCRIPTION = `Records purchases of products from Minhang District's counterpart counties (Yunnan, Xinjiang) through
five channels and serves exact running totals against each year's targets.

**Money** is a decimal string in yuan (\`"125000.50"\`): requests accept \`^\\d{1,10}(\\.\\d{1,2})?$\`, > 0;
responses always carry two fraction digits. The service stores integer fen and never uses floating point.
**Ratios** are JSON numbers rounded half-up to 4 places. **Dates** are \`YYYY-MM-DD\` in Asia/Shanghai.
**Errors** are RFC 9457 \`application/problem+json\` with a stable \`code\`.
**Auth**: \`Authorization: Bearer <api key>\` on every \`/v1\` route; roles admin, finance, reporter.
**Pagination**: keyset cursors (\`limit\` 1–500, default 50; \`cursor\` from \`next_cursor\`); a cursor is bound to its filters.
**Idempotency**: every POST accepts \`Idempotency-Key\` (see the header's description).
**Rate limit**: \`RATE_LIMIT_PER_MINUTE\` requests per API key per minute per server instance (default 6000; 0 = off), then 429 with \`Retry-After\`.`

/** The OpenAPI 3.1 document is generated from the routes' zod schemas; it is never written by hand. */
export const openapiPlugin = fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Consumption-assistance procurement tracker',
        version: '1.0.0',
        description: API_DESCRIPTION,
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key' } },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'purchases' },
        { name: 'totals' },
        { name: 'reports' },
        { name: 'targets' },
        { name: 'canteen' },
        { name: 'orgs' },
        { name: 'regions' },
        { name: 'api-keys' },
        { name: 'audit' },
        { name: 'operations' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
})
