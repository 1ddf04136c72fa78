/** The bench's ratios and goals from the recorded series, the optional CPU profile, and the raw figures. */
import { readdirSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { writeResultsFile } from '../lib/results.js'
import type { ProcessFigures } from './measure.js'
import { type Bench, READS } from './measurements.js'
import { log } from './phases.js'
import { topSelfTime } from './profile.js'
import { type Goal, pairedRatio, recordsLabel, type Series, summarise } from './report.js'

const emptySeries: Series = { id: '', label: '', phase: 'large', records: 0, samples: [] }
const f2 = (v: number) => (Number.isNaN(v) ? '–' : v.toFixed(2))
const known = (v: number) => !Number.isNaN(v)
const goal = (text: string, measured: string, met: boolean | null): Goal => ({ goal: text, measured, met })

/** The figures the ratios and goals are made of. */
function figures(b: Bench) {
  const find = (id: string, phase: 'small' | 'large') =>
    b.series.find((s) => s.id === id && s.phase === phase && s.samples.length > 0)
  const at = (id: string, phase: 'small' | 'large') => summarise(find(id, phase) ?? emptySeries)
  const light = b.opts.lightConnections
  const ratioOf = (a?: number, c?: number) =>
    a !== undefined && c !== undefined && c > 0 ? a / c : Number.NaN
  const rps = (s: { load?: { rps: number } }) => s.load?.rps
  return {
    light,
    postRatio: pairedRatio(find('ours-post', 'large'), find('anchor-post', 'large'), rps),
    helloRatio: pairedRatio(find('ours-post', 'large'), find('anchor-hello', 'large'), rps),
    importRatio: pairedRatio(find('import', 'large'), find('copy', 'large'), (s) => s.rows?.rowsPerSec),
    readRatio: (id: string) =>
      ratioOf(at(`${id}-c${light}`, 'large')?.p50, at(`${id}-c${light}`, 'small')?.p50),
    totalsBig: at(`totals-c${light}`, 'large'),
    helloBig: at(`anchor-hello-c${light}`, 'large'),
    postSum: at('ours-post', 'large'),
    bigLabel: recordsLabel(b.opts.records),
    smallLabel: recordsLabel(b.opts.smallRecords),
  }
}
type Figures = ReturnType<typeof figures>

function ratiosOf(f: Figures): [string, string][] {
  const { light, bigLabel, smallLabel } = f
  return [
    ['POST: ours ÷ anchor POST+INSERT req/s (median of per-round ratios)', f2(f.postRatio)],
    ['POST: ours ÷ anchor hello req/s', f2(f.helloRatio)],
    ...READS.map((r): [string, string] => [
      `${r.label} p50 at ${bigLabel} ÷ p50 at ${smallLabel} (c=${light})`,
      f2(f.readRatio(r.id)),
    ]),
    [
      `GET /v1/totals p99 at ${bigLabel} − anchor hello GET p99 (c=${light}): the part above the machine's floor`,
      `${f2((f.totalsBig?.p99 ?? Number.NaN) - (f.helloBig?.p99 ?? Number.NaN))} ms (floor ${f2(f.helloBig?.p99 ?? Number.NaN)} ms)`,
    ],
    ['import ÷ raw COPY rows/s (median of per-round ratios)', f2(f.importRatio)],
  ]
}

/** Our server's peak memory over the seeding and every measurement of it. */
function oursPeakMb(b: Bench, seeding: ProcessFigures): number {
  return Math.max(
    seeding.rssMaxMb ?? 0,
    ...b.series
      .filter((s) => !s.id.startsWith('anchor'))
      .flatMap((s) => s.samples.map((x) => Math.max(x.proc.rssMaxMb ?? 0, x.proc.hwmMb ?? 0))),
  )
}

function goalsOf(b: Bench, f: Figures, oursPeak: number): Goal[] {
  const { postRatio, postSum, totalsBig, importRatio, light, bigLabel, smallLabel } = f
  const totalsRatio = f.readRatio('totals')
  const goals: Goal[] = [
    goal(
      'POST /v1/purchases ≥ 0.6 × anchor POST+INSERT req/s',
      `${f2(postRatio)} (${Math.round(postSum?.rps ?? Number.NaN)} req/s)`,
      known(postRatio) ? postRatio >= 0.6 : null,
    ),
    goal(
      'POST /v1/purchases: every response 2xx',
      `${postSum ? postSum.non2xx + postSum.errors : '–'} non-2xx/errors`,
      postSum ? postSum.non2xx + postSum.errors === 0 : null,
    ),
    goal(
      `GET /v1/totals p99 ≤ 5 ms at ${bigLabel} records (c=${light})`,
      `${f2(totalsBig?.p99 ?? Number.NaN)} ms`,
      totalsBig?.p99 !== undefined ? totalsBig.p99 <= 5 : null,
    ),
    goal(
      `GET /v1/totals p50 at ${bigLabel} ≤ 1.5 × p50 at ${smallLabel} (c=${light})`,
      f2(totalsRatio),
      known(totalsRatio) ? totalsRatio <= 1.5 : null,
    ),
    goal(
      'CSV import ≥ 0.5 × raw COPY rows/s',
      f2(importRatio),
      known(importRatio) ? importRatio >= 0.5 : null,
    ),
    goal('server RSS ≤ 200 MB throughout', `peak ${oursPeak.toFixed(0)} MB`, oursPeak <= 200),
  ]
  if (b.opts.records < 1_000_000)
    goals.push(goal(`(run at ${bigLabel} records, not the 1M the goals name)`, '', null))
  return goals
}

export function ratiosAndGoals(
  b: Bench,
  seeding: ProcessFigures,
): { ratios: [string, string][]; goals: Goal[] } {
  const f = figures(b)
  return { ratios: ratiosOf(f), goals: goalsOf(b, f, oursPeakMb(b, seeding)) }
}

/** Stops the server so it writes its profile, then prints its top self-time functions and packages. */
export async function printProfile(b: Bench, profileDir: string) {
  await b.ours.stop()
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) {
    log(`no profile written in ${profileDir}`)
    return undefined
  }
  const profile = topSelfTime(join(profileDir, file), 25)
  console.log(
    `\nserver CPU profile ${join(profileDir, file)} (busy ${((1 - profile.idleShare) * 100).toFixed(0)} %)`,
  )
  for (const t of profile.top) {
    console.log(`  ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.fn}  ${t.where}`)
  }
  console.log('  by package:')
  for (const p of profile.byPackage.slice(0, 12)) {
    console.log(`  ${(p.share * 100).toFixed(1).padStart(5)} %  ${p.pkg}`)
  }
  return profile
}

/** bench-results/bench-<stamp>.json: the options, the machine, every sample and the summaries. */
export async function writeResults(
  b: Bench,
  name: string,
  run: { startedAt: Date; twoPhases: boolean; finalRecords: number; seeding: ProcessFigures },
  summary: { ratios: [string, string][]; goals: Goal[]; profile?: ReturnType<typeof topSelfTime> },
) {
  const postgres = (await b.probe.query<{ v: string }>('select version() as v')).rows[0]?.v
  const results = {
    started_at: run.startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    options: { ...b.opts, only: [...b.opts.only], databaseUrl: undefined },
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, node: process.version, postgres },
    records: {
      small: run.twoPhases ? b.opts.smallRecords : null,
      large: b.opts.records,
      final: run.finalRecords,
    },
    idle_rss_mb: b.idleRssMb,
    seeding: { rss_max_mb: run.seeding.rssMaxMb },
    series: b.series.map((s) => ({ ...s, summary: summarise(s) })),
    ratios: Object.fromEntries(summary.ratios),
    goals: summary.goals,
    profile: summary.profile,
  }
  const file = writeResultsFile(name, results)
  log(`raw figures: ${file}`)
}
