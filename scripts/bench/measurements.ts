/**
 * What the bench measures: the anchors, our POST, the reads at two connection counts, and the CSV import
 * next to a raw COPY of the same rows. Each measurement is one run against one process.
 */
import type pg from 'pg'
import { withClient } from '../lib/postgres.js'
import type { Child } from '../lib/processes.js'
import { load } from './measure.js'
import type { BenchOptions, Group } from './options.js'
import type { RowsResult, Sample, Series } from './report.js'
import { copyIntoPurchases, genRow, importData, purchaseJson, rng } from './seed.js'
import type { Actors, Processes } from './setup.js'

/** A measurement that cannot run here (the endpoint is unavailable); its series is marked skipped. */
export class Skip extends Error {}

export interface Measurement {
  id: string
  label: string
  group: Group
  /** The process whose RSS and CPU are sampled (none for the raw COPY). */
  target?: () => Child
  connections?: number
  /** Sample the bench database's sessions' wait events while this runs. */
  waits?: boolean
  run: (round: number, warmup: boolean) => Promise<{ load?: Sample['load']; rows?: RowsResult }>
}

/** Everything one bench run works with, passed to every step. */
export interface Bench extends Processes {
  opts: BenchOptions
  tag: string
  db: { url: string; name: string }
  actors: Actors
  /** A connection for wait-event sampling and row counts, outside the server's pool. */
  probe: pg.Client
  /** Measurement ids whose endpoint did not answer as expected, with why. */
  unavailable: Map<string, string>
  /** The next POST body (deterministic rows, numbered across every POST of the run). */
  postBody: (prefix: string) => { i: number; body: string }
  series: Series[]
  seeded: number
}

/** POST bodies from deterministic rows (`seed`), voucher `<prefix><tag>-<n>`, numbered across prefixes. */
export function postBodies(tag: string, seed = 42): Bench['postBody'] {
  const rand = rng(seed)
  let seq = 0
  return (prefix) => {
    const i = seq++
    return { i, body: purchaseJson(genRow(rand, `${prefix}${tag}-${i}`)) }
  }
}

export const READS: { id: string; label: string; path: string }[] = [
  { id: 'totals', label: 'GET /v1/totals?year=2024', path: '/v1/totals?year=2024' },
  {
    id: 'breakdown',
    label: 'GET /v1/totals/breakdown?by=region',
    path: '/v1/totals/breakdown?year=2024&by=region',
  },
  {
    id: 'list',
    label: 'GET /v1/purchases (filtered page)',
    path: '/v1/purchases?year=2024&channel=wholesale&region_code=530502&limit=50',
  },
]

const readAuth = (b: Bench) => ({ authorization: `Bearer ${b.actors.finance.secret}` })
const reporterAuth = (b: Bench) => `Bearer ${b.actors.reporter.secret}`
const duration = (b: Bench, warmup: boolean) => (warmup ? Math.min(2, b.opts.duration) : b.opts.duration)

/** One request to each endpoint; what does not answer as expected is skipped (POST must work). */
export async function probeAvailability(b: Bench): Promise<void> {
  const probeStatus = async (id: string, path: string, init: RequestInit, expect: number) => {
    const res = await fetch(`${b.ours.url}${path}`, init)
    const text = await res.text()
    if (res.status !== expect)
      b.unavailable.set(id, `${res.status} ${text.slice(0, 120).replace(/\s+/g, ' ')}`)
  }
  for (const r of READS) await probeStatus(r.id, r.path, { headers: readAuth(b) }, 200)
  const { csv } = importData(10, `probe${b.tag}`, b.actors.reporterOrg.id, b.actors.reporter.id)
  await probeStatus(
    'import',
    '/v1/purchases/import?dry_run=true',
    {
      method: 'POST',
      headers: { authorization: reporterAuth(b), 'content-type': 'text/csv; charset=utf-8' },
      body: csv,
    },
    200,
  )
  const { body } = b.postBody('X')
  const json = { authorization: reporterAuth(b), 'content-type': 'application/json' }
  await probeStatus('post', '/v1/purchases', { method: 'POST', headers: json, body }, 201)
  if (b.unavailable.has('post'))
    throw new Error(`POST /v1/purchases does not work: ${b.unavailable.get('post')}`)
}

function skipIfUnavailable(b: Bench, id: string) {
  if (b.unavailable.has(id)) throw new Skip(b.unavailable.get(id)!)
}

function helloAnchor(b: Bench, id: string, group: Group, connections: number): Measurement {
  return {
    id,
    label: 'anchor: Fastify hello GET',
    group,
    target: () => b.hello,
    connections,
    run: async (_r, warmup) => ({
      load: await load({ url: `${b.hello.url}/`, connections, duration: duration(b, warmup) }),
    }),
  }
}

function postMeasurements(b: Bench): Measurement[] {
  const { connections } = b.opts
  const post = { group: 'post', connections, waits: true } as const
  return [
    {
      ...post,
      id: 'anchor-post',
      label: 'anchor: POST validate+INSERT',
      target: () => b.anchorPost,
      run: async (_r, warmup) => ({
        load: await load({
          url: `${b.anchorPost.url}/`,
          method: 'POST',
          connections,
          duration: duration(b, warmup),
          headers: { 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, body: b.postBody('A').body }),
        }),
      }),
    },
    {
      ...post,
      id: 'ours-post',
      label: 'ours: POST /v1/purchases',
      target: () => b.ours,
      run: async (_r, warmup) => ({
        load: await load({
          url: `${b.ours.url}/v1/purchases`,
          method: 'POST',
          connections,
          duration: duration(b, warmup),
          headers: { 'content-type': 'application/json', authorization: reporterAuth(b) },
          setupRequest: (req) => {
            const { i, body } = b.postBody('P')
            return { ...req, body, headers: { ...req.headers, 'idempotency-key': `bench-${b.tag}-${i}` } }
          },
        }),
      }),
    },
  ]
}

function readMeasurements(b: Bench): Measurement[] {
  const counts = [...new Set([b.opts.lightConnections, b.opts.connections])]
  return READS.flatMap((r) =>
    counts.map(
      (c): Measurement => ({
        id: `${r.id}-c${c}`,
        label: r.label,
        group: 'reads',
        target: () => b.ours,
        connections: c,
        waits: true,
        run: async (_round, warmup) => {
          skipIfUnavailable(b, r.id)
          const url = `${b.ours.url}${r.path}`
          return {
            load: await load({ url, connections: c, duration: duration(b, warmup), headers: readAuth(b) }),
          }
        },
      }),
    ),
  )
}

/** The import through the API (a dry run to warm up), timed from request to response. */
async function timedImport(b: Bench, round: number, warmup: boolean): Promise<{ rows: RowsResult }> {
  skipIfUnavailable(b, 'import')
  const rows = warmup ? 1_000 : b.opts.importRows
  const { csv } = importData(rows, `${b.tag}r${round}`, b.actors.reporterOrg.id, b.actors.reporter.id)
  const t0 = process.hrtime.bigint()
  const res = await fetch(`${b.ours.url}/v1/purchases/import${warmup ? '?dry_run=true' : ''}`, {
    method: 'POST',
    headers: {
      authorization: reporterAuth(b),
      'content-type': 'text/csv; charset=utf-8',
      'idempotency-key': `bench-import-${b.tag}-${round}-${warmup}`,
    },
    body: csv,
    signal: AbortSignal.timeout(600_000),
  })
  const text = await res.text()
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (res.status !== (warmup ? 200 : 201)) {
    throw new Error(`import → ${res.status}: ${text.slice(0, 300)}`)
  }
  return { rows: { rows, seconds, rowsPerSec: rows / seconds } }
}

/** The same rows by raw COPY on a fresh connection (no warm-up). */
async function timedCopy(b: Bench, round: number, warmup: boolean): Promise<{ rows?: RowsResult }> {
  skipIfUnavailable(b, 'import')
  if (warmup) return {}
  const { importRows } = b.opts
  const { copyText } = importData(
    importRows,
    `${b.tag}r${round}`,
    b.actors.reporterOrg.id,
    b.actors.reporter.id,
  )
  return withClient(b.db.url, async (client) => {
    const t0 = process.hrtime.bigint()
    await copyIntoPurchases(client, [copyText])
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    return { rows: { rows: importRows, seconds, rowsPerSec: importRows / seconds } }
  })
}

/** The measurements of the groups `--only` names, in the order the rounds run them. */
export function measurementsFor(b: Bench): Measurement[] {
  const all: Measurement[] = [
    helloAnchor(b, 'anchor-hello', 'hello', b.opts.connections),
    ...postMeasurements(b),
    ...readMeasurements(b),
    // The machine's own latency floor for the read goals: the same client, connections and phase, no work.
    helloAnchor(b, `anchor-hello-c${b.opts.lightConnections}`, 'reads', b.opts.lightConnections),
    {
      id: 'import',
      label: 'ours: POST /v1/purchases/import (CSV)',
      group: 'import',
      target: () => b.ours,
      waits: true,
      run: (round, warmup) => timedImport(b, round, warmup),
    },
    { id: 'copy', label: 'raw COPY of the same rows', group: 'import', run: (r, w) => timedCopy(b, r, w) },
  ]
  return all.filter((m) => b.opts.only.has(m.group))
}
