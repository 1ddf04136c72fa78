/** HTTP for the harness: requests over node:http agents, readiness probes and JSON set-up calls. */
import { Agent, type IncomingHttpHeaders, request } from 'node:http'

export interface HttpResult {
  status: number
  contentType: string
  headers: IncomingHttpHeaders
  body: string
}

/**
 * One HTTP request over an agent (node:http: a real socket, and much less client CPU per request than
 * fetch, which matters when clients and servers share two cores). Rejects on a network error or a timeout —
 * the cases where the client cannot know whether the request took effect.
 */
export function httpRequest(
  agent: Agent,
  url: string,
  opts: {
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
    timeoutMs?: number
  } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers }
    if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body)
    const req = request(url, { method: opts.method ?? 'GET', agent, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      )
      res.on('aborted', () => reject(new Error('response aborted')))
    })
    req.setTimeout(opts.timeoutMs ?? 20_000, () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end(opts.body)
  })
}

const probeAgent = new Agent({ keepAlive: false })

/** GET with a short timeout on a fresh connection; undefined on a network error. */
export async function probe(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 2_000,
): Promise<HttpResult | undefined> {
  try {
    return await httpRequest(probeAgent, url, { headers, timeoutMs })
  } catch {
    return undefined
  }
}

/** A set-up call: `POST baseUrl+path` with a JSON body as `secret`'s bearer; throws unless 2xx. */
export async function postJson<T>(baseUrl: string, path: string, body: unknown, secret: string): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`POST ${path} → ${res.status}: ${text.slice(0, 500)}`)
  return JSON.parse(text) as T
}
