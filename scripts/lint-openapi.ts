/**
 * `npm run lint` (after biome): validates openapi/openapi.json against the OpenAPI 3.1 schema with
 * @apidevtools/swagger-parser (which also resolves every $ref), then checks what that schema cannot:
 * path parameters are declared, operation ids are unique, every operation has a success response and
 * names only defined security schemes. Exits non-zero with one line per problem.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import SwaggerParser from '@apidevtools/swagger-parser'

const FILE = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url))
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

interface Parameter {
  name: string
  in: string
  required?: boolean
}
interface Operation {
  operationId?: string
  parameters?: Parameter[]
  responses?: Record<string, unknown>
  security?: Record<string, string[]>[]
}
interface Document {
  openapi?: string
  paths?: Record<string, Record<string, unknown> & { parameters?: Parameter[] }>
  components?: { securitySchemes?: Record<string, unknown> }
  security?: Record<string, string[]>[]
}

/** Problems the OpenAPI schema itself does not catch; empty when there are none. */
export function semanticProblems(doc: Document): string[] {
  const problems: string[] = []
  if (!doc.openapi?.startsWith('3.1.')) problems.push(`openapi is "${doc.openapi}", expected 3.1.x`)
  const schemes = new Set(Object.keys(doc.components?.securitySchemes ?? {}))
  const checkSecurity = (where: string, security: Record<string, string[]>[] | undefined) => {
    for (const requirement of security ?? []) {
      for (const name of Object.keys(requirement)) {
        if (!schemes.has(name)) problems.push(`${where}: security scheme "${name}" is not defined`)
      }
    }
  }
  checkSecurity('document', doc.security)
  const operationIds = new Map<string, string>()
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!)
    for (const method of METHODS) {
      const op = item[method] as Operation | undefined
      if (!op) continue
      const where = `${method.toUpperCase()} ${path}`
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])]
      for (const name of templated) {
        const p = params.find((x) => x.in === 'path' && x.name === name)
        if (!p) problems.push(`${where}: path parameter "${name}" is not declared`)
        else if (p.required !== true) problems.push(`${where}: path parameter "${name}" must be required`)
      }
      for (const p of params.filter((x) => x.in === 'path' && !templated.includes(x.name))) {
        problems.push(`${where}: path parameter "${p.name}" is not in the path`)
      }
      const statuses = Object.keys(op.responses ?? {})
      if (!statuses.some((s) => /^[23]/.test(s))) problems.push(`${where}: no success response`)
      if (op.operationId) {
        const seen = operationIds.get(op.operationId)
        if (seen) problems.push(`${where}: operationId "${op.operationId}" is also used by ${seen}`)
        operationIds.set(op.operationId, where)
      }
      checkSecurity(where, op.security)
    }
  }
  return problems
}

async function main() {
  let doc: Document
  try {
    doc = JSON.parse(readFileSync(FILE, 'utf8')) as Document
  } catch (err) {
    throw new Error(`cannot read ${FILE}: ${(err as Error).message} (run npm run openapi)`)
  }
  // validate() dereferences in place, so it gets its own copy.
  await SwaggerParser.validate(structuredClone(doc) as Parameters<typeof SwaggerParser.validate>[0])
  const problems = semanticProblems(doc)
  if (problems.length > 0) throw new Error(problems.join('\n'))
  console.log(`openapi/openapi.json is a valid OpenAPI ${doc.openapi} document`)
}

main().catch((err) => {
  console.error(`openapi lint failed:\n${(err as Error).message}`)
  process.exit(1)
})
