/**
 * A generated request made concrete: picks resolved against the world, the URL built (percent-encoded
 * unless `Raw`), the body serialised (JSON, raw text, a JSON object with a duplicated member, or CSV bytes
 * in UTF-8 or GBK with junk), and the principal's Authorization header.
 */
import type { InjectOptions } from 'fastify'
import iconv from 'iconv-lite'
import { type CsvSpec, type Draft, Raw } from './generators.js'
import type { World } from './world.js'

export interface Sent {
  method: string
  url: string
  headers: Record<string, string>
  payload?: string | Buffer
}

/** Percent-encodes text; a lone surrogate (which encodeURIComponent refuses) as its UTF-8 replacement bytes. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text)
  } catch {
    return [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')
  }
}

const urlPart = (value: unknown) => (value instanceof Raw ? value.text : encode(String(value)))

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf])

function csvBytes(spec: CsvSpec, resolve: (v: unknown) => unknown): Buffer {
  const cell = (v: unknown) => {
    const s = String(resolve(v) ?? '')
    return spec.quoteAll || /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
  }
  const lines = [spec.header, ...spec.rows].filter((r) => r.length > 0)
  const text = lines.map((r) => r.map(cell).join(',') + spec.eol).join('')
  let bytes = spec.gbk ? iconv.encode(text, 'gbk') : Buffer.from(text, 'utf8')
  if (spec.bom && !spec.gbk) bytes = Buffer.concat([UTF8_BOM, bytes])
  const junk = spec.junk && Buffer.from(spec.junk.bytes)
  if (!junk) return bytes
  if (spec.junk!.at === 'replace') return junk
  return spec.junk!.at === 'append' ? Buffer.concat([bytes, junk]) : Buffer.concat([junk, bytes])
}

/** The request as it goes to app.inject. */
export function concrete(d: Draft, world: World): Sent {
  const resolve = (v: unknown) => world.resolve(v, d.principal)
  let url = d.op.path.replace(/\{([^}]+)\}/g, (_, name: string) => urlPart(resolve(d.path[name])))
  // A parameter whose value resolves to nothing (no cursor) or null (an optional field's null) is left out.
  const query = d.query
    .map(([k, v]) => [k, resolve(v)] as const)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${encode(k)}=${urlPart(v)}`)
  if (d.rawQuery !== undefined) query.push(d.rawQuery)
  if (query.length > 0) url += `?${query.join('&')}`

  const headers: Record<string, string> = {}
  const authorization = world.authorization(d.principal, d.authN)
  if (authorization !== undefined) headers.authorization = authorization
  for (const [name, value] of Object.entries(d.headers)) headers[name] = String(resolve(value))

  let payload: string | Buffer | undefined
  switch (d.body.kind) {
    case 'json':
      payload = JSON.stringify(resolve(d.body.value)) ?? ''
      break
    case 'text':
      payload = String(resolve(d.body.text))
      break
    case 'duplicate': {
      const value = resolve(d.body.value) as Record<string, unknown>
      const [first] = Object.keys(value)
      const rest = JSON.stringify(value).slice(1)
      payload = `{${JSON.stringify(first)}:${JSON.stringify(resolve(d.body.first)) ?? 'null'},${rest}`
      break
    }
    case 'csv':
      payload = csvBytes(d.body.csv, resolve)
      break
  }
  const contentType = d.contentType === undefined ? d.op.body?.contentType : d.contentType
  if (payload !== undefined && contentType !== null && contentType !== undefined)
    headers['content-type'] = contentType
  return { method: d.method, url, headers, payload }
}

export const injectOptions = (s: Sent): InjectOptions => ({
  method: s.method as InjectOptions['method'],
  url: s.url,
  headers: s.headers,
  ...(s.payload === undefined ? {} : { payload: s.payload }),
})

/** A short account of a request for a failure message (the secret replaced by the principal's name). */
export function describe(d: Draft, s: Sent): string {
  const headers = Object.entries(s.headers)
    .filter(([k]) => k !== 'authorization')
    .map(([k, v]) => `${k}: ${JSON.stringify(v.slice(0, 80))}`)
  const body =
    s.payload === undefined
      ? ''
      : ` body(${s.payload.length}B)=${JSON.stringify(
          Buffer.isBuffer(s.payload)
            ? s.payload.subarray(0, 200).toString('latin1')
            : s.payload.slice(0, 300),
        )}`
  return `${d.principal} ${s.method} ${s.url.slice(0, 300)} [${d.mutations.join(', ')}] ${headers.join('; ')}${body}`
}
