/** Medians across rounds, the ratios the issue asks for, the goals, and the printed table. */
import { type LoadResult, median, type ProcessFigures } from './measure.js'

export interface RowsResult {
  rows: number
  seconds: number
  rowsPerSec: number
}

export interface Sample {
  round: number
  load?: LoadResult
  rows?: RowsResult
  /** The measurement failed (e.g. the import answered 503); its figures are left out of the medians. */
  failed?: string
  proc: ProcessFigures
}

export interface Series {
  id: string
  label: string
  phase: 'small' | 'large'
  /** Records in purchases when the phase started. */
  records: number
  connections?: number
  samples: Sample[]
  skipped?: string
}

export interface Summary {
  rps?: number
  p50?: number
  p99?: number
  rowsPerSec?: number
  non2xx: number
  errors: number
  failures: number
  rssMaxMb: number | null
  hwmMb: number | null
  cpuCores: number | null
  pgCpuCores: number
}

export function summarise(s: Series): Summary | undefined {
  if (s.samples.length === 0) return undefined
  const loads = s.samples.flatMap((x) => (x.load ? [x.load] : []))
  const rows = s.samples.flatMap((x) => (x.rows ? [x.rows] : []))
  const known = (v: (number | null)[]) => v.filter((x): x is number => x !== null)
  const maxOf = (v: (number | null)[]) => (known(v).length ? Math.max(...known(v)) : null)
  return {
    rps: loads.length ? median(loads.map((l) => l.rps)) : undefined,
    p50: loads.length ? median(loads.map((l) => l.p50)) : undefined,
    p99: loads.length ? median(loads.map((l) => l.p99)) : undefined,
    rowsPerSec: rows.length ? median(rows.map((r) => r.rowsPerSec)) : undefined,
    non2xx: loads.reduce((a, l) => a + l.non2xx, 0),
    errors: loads.reduce((a, l) => a + l.errors + l.timeouts, 0),
    failures: s.samples.filter((x) => x.failed).length,
    rssMaxMb: maxOf(s.samples.map((x) => x.proc.rssMaxMb)),
    hwmMb: maxOf(s.samples.map((x) => x.proc.hwmMb)),
    cpuCores: known(s.samples.map((x) => x.proc.cpuCores)).length
      ? median(known(s.samples.map((x) => x.proc.cpuCores)))
      : null,
    pgCpuCores: median(s.samples.map((x) => x.proc.pgCpuCores)),
  }
}

/** Median over rounds of a per-round ratio (drift within a round cancels). */
export function pairedRatio(
  a: Series | undefined,
  b: Series | undefined,
  f: (s: Sample) => number | undefined,
) {
  if (!a || !b) return Number.NaN
  const ratios: number[] = []
  for (const sa of a.samples) {
    const sb = b.samples.find((x) => x.round === sa.round)
    const va = f(sa)
    const vb = sb && f(sb)
    if (va !== undefined && vb !== undefined && vb > 0) ratios.push(va / vb)
  }
  return median(ratios)
}

export interface Goal {
  goal: string
  measured: string
  met: boolean | null
}

const fmt = (v: number | undefined | null, digits = 2) =>
  v === undefined || v === null || Number.isNaN(v) ? '–' : v.toFixed(digits)
const int = (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US')

export function recordsLabel(n: number): string {
  if (n >= 1_000_000 && n % 100_000 === 0) return `${n / 1_000_000}M`
  if (n >= 1_000 && n % 1_000 === 0) return `${n / 1_000}k`
  return String(n)
}

const HEADER = [
  'measurement',
  'records',
  'conn',
  'req/s',
  'rows/s',
  'p50 ms',
  'p99 ms',
  'non2xx',
  'RSS MB',
  'HWM MB',
  'cpu',
  'pg cpu',
]

/** One table line per series: its medians, or why it was skipped. */
function seriesLine(s: Series): string[] {
  const sum = summarise(s)
  if (!sum) return [s.label, recordsLabel(s.records), '', `skipped: ${s.skipped ?? 'not run'}`]
  return [
    s.label,
    recordsLabel(s.records),
    s.connections ? String(s.connections) : '',
    int(sum.rps),
    int(sum.rowsPerSec),
    fmt(sum.p50),
    fmt(sum.p99),
    sum.failures
      ? `${sum.failures} failed`
      : sum.rps === undefined
        ? ''
        : `${sum.non2xx}${sum.errors ? ` (+${sum.errors} err)` : ''}`,
    fmt(sum.rssMaxMb, 0),
    fmt(sum.hwmMb, 0),
    fmt(sum.cpuCores),
    fmt(sum.pgCpuCores),
  ]
}

function printSeries(series: Series[]): void {
  const lines: string[][] = [HEADER, ...series.map(seriesLine)]
  const measured = lines.filter((l) => !l[3]?.startsWith('skipped'))
  const widths = HEADER.map((_, i) => Math.max(...measured.map((l) => (l[i] ?? '').length)))
  const numeric = (i: number) => i >= 2
  const row = (l: string[]) =>
    l
      .map((c, i) => {
        // A "skipped" note spans the rest of the line.
        if (i === 3 && c.startsWith('skipped')) return c
        return numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)
      })
      .join('  ')
  console.log()
  console.log(row(lines[0]!))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const l of lines.slice(1)) console.log(row(l))
  console.log(
    [
      '',
      'medians across rounds; latencies exact (client side, every response); cpu = cores used by the process',
      "under test, pg cpu = cores used by the bench database's PostgreSQL backends + background processes;",
      'RSS = max VmRSS sampled every 100 ms, HWM = kernel peak (VmHWM, reset per measurement), both of the',
      'process under test (the server, or the anchor in anchor rows).',
    ].join('\n'),
  )
}

export function printTable(series: Series[], ratios: [string, string][], goals: Goal[]): void {
  printSeries(series)
  console.log('\nratios')
  const w = Math.max(...ratios.map(([k]) => k.length))
  for (const [k, v] of ratios) console.log(`  ${k.padEnd(w)}  ${v}`)
  console.log('\ngoals (issue 6)')
  for (const g of goals) {
    const mark = g.met === null ? 'n/a    ' : g.met ? 'met    ' : 'NOT MET'
    console.log(`  [${mark}] ${g.goal} — ${g.measured}`)
  }
}
