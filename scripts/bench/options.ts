import { parseArgs } from 'node:util'

export interface BenchOptions {
  /** Records in `purchases` for the large-dataset phase (seeded by COPY). */
  records: number
  /** Records for the small-dataset phase (the totals baseline). */
  smallRecords: number
  /** Seconds per measurement. */
  duration: number
  /** Connections for throughput measurements. */
  connections: number
  /** Connections for the latency measurements the read goals are judged on (service time, no queueing). */
  lightConnections: number
  rounds: number
  /** Rows in the CSV import (and in the raw COPY it is compared with). */
  importRows: number
  /** Orgs the seeded records are spread over. */
  seedOrgs: number
  /** Base URL: the harness creates `<database>_bench_<random>` on this server and drops it at the end. */
  databaseUrl: string
  /** Measurement groups to run (default all). */
  only: Set<Group>
  /** Run the server with --cpu-prof and summarise the profile at the end. */
  profile: boolean
  quick: boolean
}

export const GROUPS = ['hello', 'post', 'reads', 'import'] as const
export type Group = (typeof GROUPS)[number]

const HELP = `npm run bench -- [options]

  --records N            records for the large phase (default 1000000; env BENCH_RECORDS)
  --small-records N      records for the small phase (default 10000)
  --duration S           seconds per measurement (default 10; env BENCH_DURATION)
  --connections N        connections for throughput runs (default 50; env BENCH_CONNECTIONS)
  --light-connections N  connections for the latency runs reads are judged on (default 1)
  --rounds N             interleaved rounds, medians reported (default 3; env BENCH_ROUNDS)
  --import-rows N        rows in the CSV import and the raw COPY (default 50000)
  --seed-orgs N          orgs the seeded records are spread over (default 1)
  --only LIST            comma list of ${GROUPS.join(', ')} (default all)
  --profile              run the server with --cpu-prof; print its top self-time functions
  --quick                100000 records, 5 s, 2 rounds, 20000 import rows
  DATABASE_URL           base server URL (default postgres://postgres@127.0.0.1:5432/test);
                         the bench uses its own fresh database <name>_bench_<random>, dropped at the end
`

function int(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw.replaceAll('_', ''))
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${raw}`)
  return n
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: 'string' },
      'small-records': { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      'light-connections': { type: 'string' },
      rounds: { type: 'string' },
      'import-rows': { type: 'string' },
      'seed-orgs': { type: 'string' },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(HELP)
    process.exit(0)
  }
  const quick = values.quick === true
  const records = int('records', values.records ?? env.BENCH_RECORDS, quick ? 100_000 : 1_000_000)
  const only = new Set<Group>()
  for (const g of (values.only ?? GROUPS.join(',')).split(',').map((s) => s.trim())) {
    if (!(GROUPS as readonly string[]).includes(g)) throw new Error(`--only: unknown group ${g}`)
    only.add(g as Group)
  }
  return {
    records,
    smallRecords: Math.min(records, int('small-records', values['small-records'], 10_000)),
    duration: int('duration', values.duration ?? env.BENCH_DURATION, quick ? 5 : 10),
    connections: int('connections', values.connections ?? env.BENCH_CONNECTIONS, 50),
    lightConnections: int('light-connections', values['light-connections'], 1),
    rounds: int('rounds', values.rounds ?? env.BENCH_ROUNDS, quick ? 2 : 3),
    importRows: int('import-rows', values['import-rows'], quick ? 20_000 : 50_000),
    seedOrgs: int('seed-orgs', values['seed-orgs'], 1),
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    only,
    profile: values.profile === true,
    quick,
  }
}
