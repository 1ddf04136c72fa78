import type { FastifyInstance, FastifyReply } from 'fastify'
import { AppError } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Bulk work (a CSV import, an export): counts against the concurrency limits of `installWorkLimit`. */
    bulk?: boolean
  }
}

export interface WorkLimits {
  /** Bulk requests running at once on this instance. */
  perInstance: number
  /** Bulk requests running at once per API key. */
  perKey: number
}

/** What a refused client is told to wait: bulk work lasts seconds to minutes, and a slot frees when one ends. */
const RETRY_AFTER_SECONDS = 5

const refused = (detail: string) =>
  new AppError('rate_limited', 429, detail, undefined, { retry_after: RETRY_AFTER_SECONDS })

/**
 * Caps the bulk routes (route config `bulk: true`) running at once, per instance and per API key; beyond
 * either cap the request is refused with 429 `rate_limited` and `Retry-After`. Installed in the /v1 scope
 * after authentication, as an onRequest hook: the key is known, and an import's body is not read when it
 * is refused. A slot is held until the response closes — sent, failed, or its client gone — so it cannot
 * leak. Counted in this instance's memory, like the rate limit.
 */
export function installWorkLimit(scope: FastifyInstance, limits: WorkLimits) {
  let running = 0
  const byKey = new Map<string, number>()

  const take = (key: string, reply: FastifyReply) => {
    running++
    byKey.set(key, (byKey.get(key) ?? 0) + 1)
    let held = true
    const release = () => {
      if (!held) return
      held = false
      running--
      const left = byKey.get(key)! - 1
      if (left === 0) byKey.delete(key)
      else byKey.set(key, left)
    }
    reply.raw.once('close', release)
    // The client may have gone while the key was looked up: its 'close' has been emitted already.
    if (reply.raw.destroyed) release()
  }

  scope.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.config.bulk) return
    const key = request.principal.keyId
    const mine = byKey.get(key) ?? 0
    if (mine >= limits.perKey) {
      throw refused(
        `This API key already has ${mine} imports or exports running, its limit; retry when one has finished.`,
      )
    }
    if (running >= limits.perInstance) {
      throw refused(
        `The server is running its limit of ${running} imports and exports at once; retry shortly.`,
      )
    }
    take(key, reply)
  })
}
