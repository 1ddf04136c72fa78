import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { IDEMPOTENCY_DESCRIPTION, IDEMPOTENCY_KEY_PATTERN } from '../idempotency/idempotency.js'

const API_DESCRIPTION = `Records purchases of products from Minhang District's counterpart counties (Yunnan, Xinjiang) through
five channels and serves exact running totals against each year's targets.

**Money** is a decimal string in yuan (\`"125000.50"\`): requests accept \`^\\d{1,10}(\\.\\d{1,2})?$\`, > 0;
responses always carry two fraction digits. The service stores integer fen and never uses floating point.
**Ratios** are JSON numbers rounded half-up to 4 places. **Dates** are \`YYYY-MM-DD\` in Asia/Shanghai.
**Text** fields: invisible format characters (zero-width space, soft hyphen, bidi controls) are removed and
surrounding space trimmed; control characters other than tab and line breaks, and lone surrogates, are a 400.
**Errors** are RFC 9457 \`application/problem+json\` with a stable \`code\`, on every route and before any: a known path
with another method is 405 \`method_not_allowed\` with \`Allow\`; headers over 16 KiB are 431 \`headers_too_large\`;
a malformed request is 400. JSON bodies are UTF-8: another \`charset\` is 415, invalid UTF-8 is 400.
**Auth**: \`Authorization: Bearer <api key>\` on every \`/v1\` route; roles admin, finance, reporter.
**Pagination**: keyset cursors (\`limit\` 1–500, default 50; \`cursor\` from \`next_cursor\`); a cursor is bound to its filters.
**Idempotency**: every POST accepts \`Idempotency-Key\` (see the header's description).
**Request ids**: every response carries \`X-Request-Id\`: the request's own when it sent one of 1–128 printable
ASCII characters without spaces, else a new UUID; quote it when reporting a problem.
**Rate limit**: \`RATE_LIMIT_PER_MINUTE\` requests per API key per minute per server instance (default 6000; 0 = off), then 429 with \`Retry-After\`;
after \`AUTH_FAILURES_PER_MINUTE\` failed authentications (401) from one client address in a minute (default 120), that address
gets 429 for the rest of the minute, without its key being looked up.`

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
    transformObject: (doc) => finishDocument(jsonSchemaTransformObject(doc) as OpenApiDocument),
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
})

type JsonObject = Record<string, unknown>
interface Operation extends JsonObject {
  parameters?: Array<{ name: string; in: string } & JsonObject>
  responses?: Record<string, { content?: Record<string, unknown> } & JsonObject>
  security?: unknown
}
interface OpenApiDocument extends JsonObject {
  paths?: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, unknown> } & JsonObject
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' }
const BODY_ERRORS = [
  ['413', 'Body over the limit (`payload_too_large`)'],
  ['415', 'Wrong content type (`unsupported_media_type`)'],
] as const
const DEFAULT_DESCRIPTIONS: Record<string, string> = { '200': 'OK', '201': 'Created', '204': 'No content' }

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

/**
 * What the zod transform cannot say by itself, applied to the whole document so no route can forget it:
 * every /v1 operation names its security requirement, every /v1 POST documents `Idempotency-Key`, error
 * responses are `application/problem+json` (what the error handler sends), and component schemas no
 * operation references (the zod provider's unused `…Input` twins) are left out.
 */
function finishDocument(doc: OpenApiDocument): OpenApiDocument {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const v1 = path.startsWith('/v1/')
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue
      if (v1) op.security ??= [{ bearerAuth: [] }]
      if (v1 && method === 'post') addIdempotencyHeader(op)
      op.responses ??= {}
      const responses = op.responses
      // Fastify itself answers these for any route with a body, before a handler runs.
      if (op.requestBody) {
        for (const [status, description] of BODY_ERRORS) {
          responses[status] ??= {
            description,
            content: { 'application/json': { schema: { ...PROBLEM_REF } } },
          }
        }
      }
      for (const [status, response] of Object.entries(responses)) {
        if (response.description === 'Default Response' && DEFAULT_DESCRIPTIONS[status]) {
          response.description = DEFAULT_DESCRIPTIONS[status]
        }
        const json = response.content?.['application/json']
        if (Number(status) >= 400 && json && response.content) {
          response.content = { 'application/problem+json': json }
        }
      }
    }
  }
  pruneUnreferencedSchemas(doc)
  return doc
}

function addIdempotencyHeader(op: Operation) {
  op.parameters ??= []
  const params = op.parameters
  if (params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key')) return
  params.push({
    in: 'header',
    name: 'Idempotency-Key',
    required: false,
    description: IDEMPOTENCY_DESCRIPTION,
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: IDEMPOTENCY_KEY_PATTERN.source },
  })
}

const REF = /"\$ref":"#\/components\/schemas\/([^"]+)"/g

function pruneUnreferencedSchemas(doc: OpenApiDocument) {
  const schemas = doc.components?.schemas
  if (!schemas) return
  const reached = new Set<string>()
  const visit = (value: unknown) => {
    for (const [, name] of JSON.stringify(value).matchAll(REF)) {
      const decoded = decodeURIComponent(name!)
      if (!reached.has(decoded) && decoded in schemas) {
        reached.add(decoded)
        visit(schemas[decoded])
      }
    }
  }
  visit({ paths: doc.paths, webhooks: doc.webhooks, components: { ...doc.components, schemas: undefined } })
  for (const name of Object.keys(schemas)) if (!reached.has(name)) delete schemas[name]
}
