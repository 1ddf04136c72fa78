/** The run's figures, the checks that fail it, and the printed table. */
import type { Chaos } from './chaos.js'
import type { Traffic } from './clients.js'
import { CLIENTS, CREATES, OP_DEADLINE_MS } from './config.js'
import type { Instance } from './instance.js'
import type { Verification } from './verify.js'
import { formatFen } from './workload.js'

export interface Outcome {
  database: string
  traffic: Traffic
  chaos: Chaos
  verification: Verification
  instances: Instance[]
  startupMs: number
  loadMs: number
  serverCpuSeconds: number[]
  driverCpu: NodeJS.CpuUsage
}

/** Creates sent while the database refused connections. */
function outageWindow(o: Outcome) {
  const { chaos } = o
  const inWindow = o.traffic.attempts.filter(
    (a) => a.start >= chaos.outageStart && a.end <= chaos.outageEnd && chaos.outageStart > 0,
  )
  return {
    inWindow,
    notServiceUnavailable: inWindow.filter((a) => a.status !== 503 && a.status !== 'network'),
  }
}

export function figuresOf(o: Outcome): Record<string, unknown> {
  const { stats } = o.traffic
  const { chaos, verification: v } = o
  const { inWindow, notServiceUnavailable } = outageWindow(o)
  return {
    database: o.database,
    creates: CREATES,
    clients: CLIENTS,
    ops: stats.ops,
    requests: stats.requests,
    retries: stats.retries,
    network_errors: stats.networkErrors,
    replays: stats.replays,
    acknowledged: v.acknowledged,
    acknowledged_amount: formatFen(v.acknowledgedFen),
    stored: v.stored,
    stored_amount: formatFen(v.storedFen),
    rollup_amount: formatFen(v.rollupFen),
    lost: v.lost.length,
    duplicated: v.duplicated.length,
    phantom: v.phantom.length,
    duplicate_voucher_409: stats.duplicateVoucher409,
    idempotency_in_use_409: stats.inUse409,
    unavailable_503: stats.unavailable503,
    malformed_503: stats.bad503,
    internal_500: stats.internal500,
    unexpected_status: stats.unexpected,
    unresolved: stats.unresolved,
    readyz_503_during_outage: chaos.readyProbes.filter((p) => p.ok503).length,
    readyz_probes_during_outage: chaos.readyProbes.length,
    api_503_during_outage: chaos.apiProbes.filter((p) => p.ok503).length,
    api_probes_during_outage: chaos.apiProbes.length,
    creates_during_outage: inWindow.length,
    creates_during_outage_not_503: notServiceUnavailable.length,
    storm_backends_terminated: chaos.stormTerminated,
    recovery_ms: Math.max(chaos.readyRecoveredMs, chaos.writeRecoveredMs),
    readyz_recovery_ms: chaos.readyRecoveredMs,
    write_recovery_ms: chaos.writeRecoveredMs,
    crashes: o.instances.flatMap((i) => i.unexpectedExits),
    startup_ms: o.startupMs,
    server_cpu_s: o.serverCpuSeconds,
    driver_cpu_s: Math.round((o.driverCpu.user + o.driverCpu.system) / 1e4) / 100,
    load_ms: o.loadMs,
    requests_per_second: Math.round((stats.requests / o.loadMs) * 1000),
    chaos: chaos.log,
  }
}

/** Loss, duplicates, phantoms, 500s and anything the clients were told that they should not have been. */
export function exactlyOnceFailures(o: Pick<Outcome, 'traffic' | 'verification' | 'instances'>): string[] {
  const { stats, samples } = o.traffic
  const v = o.verification
  const failures = [...v.failures]
  if (v.lost.length) failures.push(`${v.lost.length} acknowledged record(s) lost: ${v.lost.slice(0, 5)}`)
  if (v.duplicated.length)
    failures.push(`${v.duplicated.length} key(s) stored twice: ${v.duplicated.slice(0, 5)}`)
  if (v.phantom.length) failures.push(`${v.phantom.length} record(s) stored but never acknowledged`)
  if (stats.internal500)
    failures.push(`${stats.internal500} response(s) 500: ${samples.internal.join(' | ')}`)
  if (stats.bad503) failures.push(`${stats.bad503} 503(s) not service_unavailable problem+json`)
  if (stats.unexpected)
    failures.push(`${stats.unexpected} unexpected status(es): ${samples.unexpected.join(' | ')}`)
  if (stats.unresolved)
    failures.push(`${stats.unresolved} request(s) never settled within ${OP_DEADLINE_MS} ms`)
  const crashes = o.instances.flatMap((i) => i.unexpectedExits)
  if (crashes.length) failures.push(`instance crash(es): ${crashes.join('; ')}`)
  return failures
}

/** The run must have exercised what it claims to prove. */
function coverageFailures(o: Outcome): string[] {
  const { stats } = o.traffic
  const failures: string[] = []
  if (o.chaos.missed.length)
    failures.push(`load finished before: ${o.chaos.missed.join(', ')} (raise RELIABILITY_CREATES)`)
  if (o.verification.acknowledged < CREATES * 0.9)
    failures.push(`only ${o.verification.acknowledged} creates acknowledged`)
  if (stats.networkErrors === 0) failures.push('the kill -9 left no request unanswered (nothing was retried)')
  if (stats.replays === 0) failures.push('no replay was seen')
  if (stats.duplicateVoucher409 === 0) failures.push('no duplicate_voucher 409 was seen')
  if (stats.unavailable503 === 0) failures.push('no 503 was seen while the database was cut')
  return failures
}

/** While the database was gone: 503 problem+json from every instance, nothing else; then recovery. */
function outageFailures(o: Outcome): string[] {
  const { readyProbes, apiProbes } = o.chaos
  const failures: string[] = []
  // A probe with no answer in 5 s proves nothing either way.
  for (const i of o.instances) {
    if (!readyProbes.some((p) => p.instance === i.name && p.ok503))
      failures.push(`/readyz of ${i.name} never seen answering 503 during the outage`)
    if (!apiProbes.some((p) => p.instance === i.name && p.ok503))
      failures.push(`API of ${i.name} never seen answering 503 during the outage`)
  }
  const badProbes = [...readyProbes, ...apiProbes].filter((p) => !p.ok503 && p.status !== 'network')
  if (badProbes.length)
    failures.push(
      `answers other than 503 problem+json during the outage: ${badProbes.map((p) => `${p.instance}:${p.status}`)}`,
    )
  const { notServiceUnavailable: bad } = outageWindow(o)
  if (bad.length)
    failures.push(
      `${bad.length} create(s) during the outage answered other than 503: ${[...new Set(bad.map((a) => a.status))]}`,
    )
  if (o.chaos.readyRecoveredMs < 0) failures.push('/readyz did not recover within 30 s')
  if (o.chaos.writeRecoveredMs < 0) failures.push('no create was acknowledged after the outage')
  return failures
}

export function failuresOf(o: Outcome): string[] {
  return [...exactlyOnceFailures(o), ...coverageFailures(o), ...outageFailures(o)]
}

export function printTable(figures: Record<string, unknown>) {
  const rows: [string, string][] = [
    ['requests (HTTP attempts)', 'requests'],
    ['logical sends', 'ops'],
    ['retries', 'retries'],
    ['  of which unanswered', 'network_errors'],
    ['replays', 'replays'],
    ['acknowledged (distinct keys)', 'acknowledged'],
    ['stored (active records)', 'stored'],
    ['acknowledged amount', 'acknowledged_amount'],
    ['stored amount', 'stored_amount'],
    ['rollup amount', 'rollup_amount'],
    ['lost', 'lost'],
    ['duplicated', 'duplicated'],
    ['stored, never acknowledged', 'phantom'],
    ['409 duplicate_voucher', 'duplicate_voucher_409'],
    ['503 service_unavailable', 'unavailable_503'],
    ['500', 'internal_500'],
    ['/readyz 503 during outage', 'readyz_503_during_outage'],
    ['recovery ms', 'recovery_ms'],
    ['load ms', 'load_ms'],
    ['requests/s', 'requests_per_second'],
  ].map(([label, key]) => [label!, String(figures[key!] ?? '-')])
  const w = Math.max(...rows.map(([l]) => l.length))
  console.log('')
  for (const [label, value] of rows) console.log(`  ${label.padEnd(w)}  ${value.padStart(20)}`)
  console.log('')
}
