/**
 * The clients: CLIENTS loops that send the task list round-robin over the instances that are up, retry what
 * got no answer on another instance (same key, same body), and record every attempt and final status.
 */
import { type HttpResult, httpRequest, probe } from '../lib/http.js'
import { sleep } from '../lib/processes.js'
import { CLIENTS, OP_DEADLINE_MS, REQUEST_TIMEOUT_MS } from './config.js'
import type { Instance } from './instance.js'
import { formatFen, type KeyResult, keyResultsOf, type Op } from './workload.js'

export interface Attempt {
  start: number
  end: number
  status: number | 'network'
}

export function newStats() {
  return {
    ops: 0,
    opsSettled: 0,
    requests: 0,
    retries: 0,
    networkErrors: 0,
    replays: 0,
    created201: 0,
    duplicateVoucher409: 0,
    inUse409: 0,
    unavailable503: 0,
    bad503: 0,
    internal500: 0,
    unexpected: 0,
    unresolved: 0,
  }
}
export type Stats = ReturnType<typeof newStats>

/** Everything the clients share and the report reads. */
export interface Traffic {
  instances: Instance[]
  auth: Record<string, string>
  tasks: Op[][]
  stats: Stats
  samples: { unexpected: string[]; internal: string[]; bad503: string[] }
  attempts: Attempt[]
  keyResults: Map<string, KeyResult>
  /** Round-robin position. */
  rr: number
  loadStart: number
  loadDone: boolean
}

export function newTraffic(
  instances: Instance[],
  auth: Record<string, string>,
  work: { tasks: Op[][]; ops: number },
): Traffic {
  const stats = newStats()
  stats.ops = work.ops
  return {
    instances,
    auth,
    tasks: work.tasks,
    stats,
    samples: { unexpected: [], internal: [], bad503: [] },
    attempts: [],
    keyResults: keyResultsOf(work.tasks),
    rr: 0,
    loadStart: 0,
    loadDone: false,
  }
}

function keep(list: string[], s: string) {
  if (list.length < 10) list.push(s)
}

export function isServiceUnavailable(contentType: string, text: string): boolean {
  if (!contentType.startsWith('application/problem+json')) return false
  try {
    const body = JSON.parse(text) as { code?: string; status?: number }
    return body.code === 'service_unavailable' && body.status === 503
  } catch {
    return false
  }
}

/** Like a load balancer: round-robin over the instances that are up, avoiding `avoid` when another is. */
function choose(t: Traffic, avoid?: Instance): Instance | undefined {
  const up = t.instances.filter((i) => i.up)
  const preferred = up.filter((i) => i !== avoid)
  const from = preferred.length > 0 ? preferred : up
  if (from.length === 0) return undefined
  return from[t.rr++ % from.length]
}

/** Health monitor: like a load balancer, routes back to an instance once /healthz answers again. */
export function startMonitor(instances: Instance[]): { stop(): Promise<void> } {
  let monitoring = true
  const loop = (async () => {
    while (monitoring) {
      await Promise.all(
        instances.map(async (i) => {
          if (!i.running || i.up) return
          const res = await probe(`${i.url}/healthz`, {}, 1_000)
          if (res?.status === 200 && i.running) i.up = true
        }),
      )
      await sleep(200)
    }
  })()
  return {
    stop: async () => {
      monitoring = false
      await loop
    },
  }
}

/** One POST of `op` to `inst`, recorded as an attempt; undefined when no response came. */
async function post(t: Traffic, inst: Instance, op: Op): Promise<HttpResult | undefined> {
  const start = Date.now()
  try {
    const res = await httpRequest(inst.agent, `${inst.url}/v1/purchases`, {
      method: 'POST',
      headers: { ...t.auth, 'content-type': 'application/json', 'idempotency-key': op.key },
      body: op.bodyJson,
      timeoutMs: REQUEST_TIMEOUT_MS,
    })
    t.attempts.push({ start, end: Date.now(), status: res.status })
    return res
  } catch {
    t.attempts.push({ start, end: Date.now(), status: 'network' })
    return undefined
  }
}

interface Retry {
  tries: number
  backoff: number
  fivehundreds: number
  avoid?: Instance
}

/** A 201: the id and whether the body matches the request. */
function created(t: Traffic, op: Op, result: KeyResult, res: HttpResult): number {
  t.stats.created201++
  if (res.headers['idempotent-replayed'] === 'true') t.stats.replays++
  try {
    const body = JSON.parse(res.body) as { id: string; amount: string; external_ref: string }
    result.ids.add(body.id)
    if (body.amount !== formatFen(op.fen) || body.external_ref !== op.key) result.bodiesOk = false
  } catch {
    result.bodiesOk = false
  }
  return 201
}

function problemCode(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { code?: string }).code
  } catch {
    return undefined
  }
}

/** What a response means: a final status, or undefined to send again (after the back-off it waited). */
async function judge(t: Traffic, inst: Instance, op: Op, res: HttpResult, retry: Retry) {
  const { stats, samples } = t
  const { status, body: text } = res
  if (status === 201) return created(t, op, t.keyResults.get(op.key)!, res)
  const code = problemCode(text)
  if (status === 409 && code === 'duplicate_voucher') {
    stats.duplicateVoucher409++
    return 409
  }
  if (status === 409 && code === 'idempotency_key_in_use') {
    stats.inUse409++
    await sleep(20 + Math.random() * 30)
    return undefined
  }
  if (status === 503) {
    stats.unavailable503++
    if (!isServiceUnavailable(res.contentType, text)) {
      stats.bad503++
      keep(samples.bad503, `${res.contentType} ${text.slice(0, 300)}`)
    }
    await sleep(retry.backoff * (0.5 + Math.random()))
    retry.backoff = Math.min(retry.backoff * 2, 400)
    return undefined
  }
  if (status >= 500) {
    stats.internal500++
    keep(samples.internal, `${inst.name}: ${status} ${text.slice(0, 300)}`)
    if (++retry.fivehundreds <= 5) {
      await sleep(100)
      return undefined
    }
  } else {
    stats.unexpected++
    keep(samples.unexpected, `${inst.name}: ${status} ${text.slice(0, 300)}`)
  }
  return status
}

/** One pass of an op: its final status (0: unresolved), or undefined to go round again. */
async function attempt(t: Traffic, op: Op, retry: Retry, started: number): Promise<number | undefined> {
  if (Date.now() - started > OP_DEADLINE_MS) {
    t.stats.unresolved++
    return 0
  }
  const inst = choose(t, retry.avoid)
  if (!inst) {
    // Every server has crashed: nothing can settle this request; fail now rather than at the deadline.
    if (t.instances.every((i) => !i.running) && t.instances.some((i) => i.unexpectedExits.length)) {
      t.stats.unresolved++
      return 0
    }
    await sleep(50)
    return undefined
  }
  retry.tries++
  t.stats.requests++
  if (retry.tries > 1) t.stats.retries++
  const res = await post(t, inst, op)
  if (!res) {
    // No response: the instance died, the socket broke or the request timed out. The request may or may
    // not have taken effect; the same key and body on the other instance settles it.
    t.stats.networkErrors++
    inst.up = false
    retry.avoid = inst
    return undefined
  }
  retry.avoid = undefined
  return judge(t, inst, op, res, retry)
}

/** Sends `op` until it settles: a 201, a final 4xx, repeated 500s, or the deadline. */
async function sendOp(t: Traffic, op: Op): Promise<void> {
  const started = Date.now()
  const retry: Retry = { tries: 0, backoff: 50, fivehundreds: 0 }
  let final: number | undefined
  while (final === undefined) final = await attempt(t, op, retry, started)
  t.keyResults.get(op.key)!.finals.push(final)
  t.stats.opsSettled++
}

/** Starts the clients; resolves with the time the last one finished. */
export function runClients(t: Traffic): Promise<number> {
  let next = 0
  t.loadStart = Date.now()
  const clients = Array.from({ length: CLIENTS }, async () => {
    for (;;) {
      const task = t.tasks[next++]
      if (!task) return
      await Promise.all(task.map((op) => sendOp(t, op)))
    }
  })
  return Promise.all(clients).then(() => {
    t.loadDone = true
    return Date.now()
  })
}

/** Resolves once `fraction` of the ops have settled (or the load is done). */
export async function progressAt(t: Traffic, fraction: number): Promise<void> {
  while (!t.loadDone && t.stats.opsSettled < fraction * t.stats.ops) await sleep(10)
}
