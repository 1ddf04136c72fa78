import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { FindPrincipal, Principal, Role } from '../auth/principal.js'
import { AppError } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal
  }
  interface FastifyContextConfig {
    /** Roles allowed on the route; every authenticated role when omitted. */
    roles?: readonly Role[]
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/**
 * Authenticates every request of the scope it is installed in (the /v1 routes), then checks the route's
 * roles. Deliberately not wrapped in fastify-plugin: the hook must not leak onto /healthz or /docs.
 * `findPrincipal` comes from the composition root (the api-keys module), so this plugin knows no module;
 * `onRejected` is told of every 401 (the per-address budget of failed authentications counts them).
 */
export function installAuth(
  scope: FastifyInstance,
  findPrincipal: FindPrincipal,
  onRejected: (request: FastifyRequest) => void = () => {},
) {
  scope.decorateRequest('principal', null as unknown as Principal)
  const reject = (request: FastifyRequest, detail: string) => {
    onRejected(request)
    return new AppError('unauthorized', 401, detail)
  }
  scope.addHook('onRequest', async (request: FastifyRequest) => {
    const match = BEARER.exec(request.headers.authorization ?? '')
    if (!match) throw reject(request, 'Send an API key as "Authorization: Bearer <key>".')
    const principal = await findPrincipal(match[1]!)
    if (!principal) throw reject(request, 'The API key is unknown or revoked.')
    request.principal = principal
    const roles = request.routeOptions.config.roles
    if (roles && !roles.includes(principal.role)) {
      throw new AppError('forbidden', 403, `This operation needs one of the roles: ${roles.join(', ')}.`)
    }
  })
}
