/**
 * The committed OpenAPI document as the fuzz test reads it: every operation with its parameters, request
 * body schema, and documented responses — each response's content types with a validator for JSON bodies
 * (zod's JSON Schema reader, over the document's own component schemas) and the problem codes its
 * description names.
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'

export type JsonSchema = { [key: string]: unknown }

interface Document {
  paths: Record<string, Record<string, RawOperation>>
  components: { schemas: Record<string, JsonSchema> }
}

interface RawOperation {
  parameters?: { name: string; in: string; required?: boolean; schema: JsonSchema }[]
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> }
  responses: Record<string, { description?: string; content?: Record<string, { schema: JsonSchema }> }>
  security?: unknown[]
}

interface Parameter {
  name: string
  in: 'query' | 'path' | 'header'
  required: boolean
  schema: JsonSchema
}

interface DocumentedResponse {
  /** Content type → validator of the parsed JSON body (null for files: CSV, XLSX). */
  content: Map<string, z.ZodType | null>
  /** The problem codes the description names, e.g. 409 → duplicate_voucher, conflict, … */
  codes: string[]
}

export interface Operation {
  /** "POST /v1/purchases/{id}/void" */
  key: string
  method: string
  /** The OpenAPI path template, e.g. /v1/orgs/{id}. */
  path: string
  parameters: Parameter[]
  body?: { contentType: string; schema: JsonSchema }
  responses: Map<number, DocumentedResponse>
  /** Needs an API key (every /v1 route). */
  secured: boolean
}

const openapi = JSON.parse(
  readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'),
) as Document

/** The documented problem codes (the Problem schema's enum). */
export const PROBLEM_CODES = (
  openapi.components.schemas.Problem as { properties: { code: { enum: string[] } } }
).properties.code.enum

const REF_PREFIX = '#/components/schemas/'

/** A component schema for a `$ref`, or the schema itself. */
export function deref(schema: JsonSchema): JsonSchema {
  const ref = schema.$ref
  if (typeof ref !== 'string') return schema
  return deref(openapi.components.schemas[ref.slice(REF_PREFIX.length)]!)
}

/** OpenAPI's component refs as JSON Schema $defs refs, for zod's reader. */
function toDefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toDefs)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' ? v.replace(REF_PREFIX, '#/$defs/') : toDefs(v),
    ]),
  )
}

const defs = toDefs(openapi.components.schemas) as Record<string, JsonSchema>

/** A validator for a documented JSON schema (draft 2020-12, as OpenAPI 3.1 writes it). */
export const validatorOf = (schema: JsonSchema): z.ZodType =>
  z.fromJSONSchema({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    ...(toDefs(schema) as JsonSchema),
    $defs: defs,
  } as never)

const isJson = (contentType: string) => /^application\/(.+\+)?json$/.test(contentType)

function responsesOf(raw: RawOperation): Map<number, DocumentedResponse> {
  const out = new Map<number, DocumentedResponse>()
  for (const [status, response] of Object.entries(raw.responses)) {
    const content = new Map<string, z.ZodType | null>()
    for (const [type, { schema }] of Object.entries(response.content ?? {})) {
      content.set(type, isJson(type) ? validatorOf(schema) : null)
    }
    const named = [...(response.description ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!)
    out.set(Number(status), { content, codes: named.filter((c) => PROBLEM_CODES.includes(c)) })
  }
  return out
}

/** Every operation of the document, in document order. */
export const operations: Operation[] = Object.entries(openapi.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, raw]) => {
    const [contentType, media] = Object.entries(raw.requestBody?.content ?? {})[0] ?? []
    return {
      key: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase(),
      path,
      parameters: (raw.parameters ?? []).map((p) => ({
        name: p.name.toLowerCase() === 'idempotency-key' ? 'idempotency-key' : p.name,
        in: p.in as Parameter['in'],
        required: p.required ?? false,
        schema: p.schema,
      })),
      body: contentType && media ? { contentType, schema: media.schema } : undefined,
      responses: responsesOf(raw),
      secured: (raw.security ?? [{}]).length > 0,
    }
  }),
)
