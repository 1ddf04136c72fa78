import type { FastifyRequest } from 'fastify'
import { type FastifyPluginAsyncZod, hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Deps } from '../../deps.js'
import { idempotentRequestOf, sendOutcome } from '../../http/idempotent-request.js'
import { IDEMPOTENCY_DESCRIPTION } from '../../idempotency/idempotency.js'
import { errorResponses, idParams } from '../../schemas.js'
import type { PathOf } from './purchases.domain.js'
import {
  createPurchaseBody,
  dryRunResult,
  listPurchasesQuery,
  MAX_BATCH_ITEMS,
  purchasePage,
  purchaseSchema,
  voidBody,
} from './purchases.schemas.js'
import { createPurchasesService } from './purchases.service.js'
import { createPurchaseWriter } from './purchases.writer.js'

const writers = ['admin', 'reporter'] as const
const idempotencyHeader = z.object({
  'idempotency-key': z.string().optional().meta({ description: IDEMPOTENCY_DESCRIPTION }),
})
const dryRunQuery = z.strictObject({
  dry_run: z
    .enum(['true', 'false'])
    .default('false')
    .meta({ description: 'true: run every check, store nothing, answer 200 with what would have happened' }),
})
export const purchasesRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const service = createPurchasesService(deps)
  const writer = createPurchaseWriter(deps)
  const tags = ['purchases']

  /**
   * The create routes take `attachValidation`, so a body that fails the schema reaches the handler: the domain
   * problems of its well-formed fields (unknown region or org, future date) are added to the schema's, and the
   * one 400 lists every problem (a batch: every bad item by index). Then the error goes to the error handler.
   */
  async function rejectInvalid(
    request: FastifyRequest,
    items: (body: unknown) => unknown[] | undefined,
    pathOf: PathOf,
  ) {
    const err = request.validationError as
      | (Error & { validation?: unknown; validationContext?: string })
      | undefined
    if (!err) return
    if (err.validationContext === 'body' && hasZodFastifySchemaValidationErrors(err)) {
      const raw = items(request.body)
      if (raw && raw.length <= MAX_BATCH_ITEMS) {
        const flagged = new Set(err.validation.map((v) => v.instancePath))
        for (const e of await service.problemsOfInvalid(request.principal, raw, pathOf)) {
          if (flagged.has(e.path)) continue
          // Same shape as the type provider's issues, which the error handler turns into errors[].
          ;(err.validation as unknown[]).push({
            keyword: 'custom',
            instancePath: e.path,
            schemaPath: '',
            params: {},
            message: e.message,
          })
        }
      }
    }
    throw err
  }

  app.post(
    '/purchases',
    {
      config: { roles: writers },
      attachValidation: true,
      schema: {
        tags,
        summary: 'Record one purchase',
        description:
          'A `voucher_no` already on an active record → 409 `duplicate_voucher` with the other record in `existing_id`. ' +
          'Reporters record for their own org only (403 otherwise); admins must give `org_id`.',
        headers: idempotencyHeader,
        body: createPurchaseBody,
        response: { 201: purchaseSchema, ...errorResponses(403, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      await rejectInvalid(
        request,
        (body) => [body],
        () => '',
      )
      return sendOutcome(
        reply,
        await writer.create(idempotentRequestOf(request), request.principal, request.body),
      )
    },
  )

  app.post(
    '/purchases/batch',
    {
      config: { roles: writers },
      attachValidation: true,
      schema: {
        tags,
        summary: `Record up to ${MAX_BATCH_ITEMS} purchases, all or nothing`,
        description:
          'Any invalid item → 400 listing every problem by path (`/items/17/amount`); voucher clashes inside the batch ' +
          'or with stored records → 409 listing every clashing path. Nothing is stored unless everything is.',
        headers: idempotencyHeader,
        querystring: dryRunQuery,
        body: z.strictObject({ items: z.array(createPurchaseBody).min(1).max(MAX_BATCH_ITEMS) }),
        response: {
          200: dryRunResult,
          201: z.object({ items: z.array(purchaseSchema) }),
          ...errorResponses(403, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      await rejectInvalid(
        request,
        (body) => {
          const items = (body as { items?: unknown } | null)?.items
          return Array.isArray(items) ? items : undefined
        },
        (i) => `/items/${i}`,
      )
      const dryRun = request.query.dry_run === 'true'
      return sendOutcome(
        reply,
        await service.createBatch(
          idempotentRequestOf(request),
          request.principal,
          request.body.items,
          dryRun,
        ),
      )
    },
  )

  app.get(
    '/purchases',
    {
      schema: {
        tags,
        summary: 'List purchases, newest occurred_on first',
        description:
          'Ordered by `occurred_on` descending, then `id` descending; keyset cursor. Reporters see only their own org; an `org_id` naming another org → 403.',
        querystring: listPurchasesQuery,
        response: { 200: purchasePage, ...errorResponses(403) },
      },
    },
    async (request) => service.list(request.principal, request.query),
  )

  app.get(
    '/purchases/:id',
    {
      schema: {
        tags,
        summary: 'Get one purchase',
        params: idParams,
        response: { 200: purchaseSchema, ...errorResponses(404) },
      },
    },
    async (request) => service.get(request.principal, request.params.id),
  )

  app.post(
    '/purchases/:id/void',
    {
      config: { roles: writers },
      schema: {
        tags,
        summary: 'Void a purchase (never deleted)',
        description:
          'Totals stop counting it and its voucher number becomes free again. Voiding twice → 409 `conflict`; another org’s record (for a reporter) → 404, as for a missing one.',
        headers: idempotencyHeader,
        params: idParams,
        body: voidBody,
        response: { 200: purchaseSchema, ...errorResponses(403, 404, 409, 415, 422) },
      },
    },
    async (request, reply) =>
      sendOutcome(
        reply,
        await service.void(
          idempotentRequestOf(request),
          request.principal,
          request.params.id,
          request.body.reason,
        ),
      ),
  )
}
