/** Single creates for the embedded runs: one POST with its timing, and the acknowledged keys for verification. */
import type { Agent } from 'node:http'
import { httpRequest } from '../lib/http.js'
import { isServiceUnavailable } from './clients.js'
import { type Window, wallClockMs } from './flushes.js'
import type { KeyResult, Op } from './workload.js'

export interface Answer extends Window {
  status: number | 'network'
  /** A replay of an earlier acknowledgement (Idempotent-Replayed): nothing was committed by this request. */
  replayed: boolean
  id?: string
  /** A 503 that is the service_unavailable problem. */
  problem503: boolean
  retryAfter?: string
  body: string
}

/** POSTs `op` (its key as Idempotency-Key); a network error or timeout is status 'network'. */
export async function postCreate(
  base: { url: string; agent: Agent },
  auth: Record<string, string>,
  op: Op,
  timeoutMs = 30_000,
): Promise<Answer> {
  const sent = wallClockMs()
  try {
    const res = await httpRequest(base.agent, `${base.url}/v1/purchases`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': op.key },
      body: op.bodyJson,
      timeoutMs,
    })
    const answered = wallClockMs()
    const id = res.status === 201 ? (JSON.parse(res.body) as { id: string }).id : undefined
    return {
      sent,
      answered,
      status: res.status,
      replayed: res.headers['idempotent-replayed'] === 'true',
      id,
      problem503: res.status === 503 && isServiceUnavailable(res.contentType, res.body),
      retryAfter: res.headers['retry-after'] as string | undefined,
      body: res.body,
    }
  } catch {
    return { sent, answered: wallClockMs(), status: 'network', replayed: false, problem503: false, body: '' }
  }
}

/** What verifyDatabase needs of keys that were each acknowledged once with `id`. */
export function acknowledged(acks: Map<string, { op: Op; id: string }>): KeyResult[] {
  return [...acks.values()].map(({ op, id }) => ({
    key: op.key,
    voucher: op.voucher,
    fen: op.fen,
    finals: [201],
    ids: new Set([id]),
    bodiesOk: true,
  }))
}
