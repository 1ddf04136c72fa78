/** The reliability run's sizes and timings (tunable by environment, see run.ts). */
function intEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`)
  return n
}

export const CREATES = intEnv('RELIABILITY_CREATES', 5_000)
export const CLIENTS = intEnv('RELIABILITY_CLIENTS', 16)
export const RESEND_SHARE = 1 / 3
/** Of the re-sends, this share goes out at the same moment as the original (to the other instance). */
export const CONCURRENT_RESEND_SHARE = 0.4
export const CLASH_SHARE = 0.05
export const REQUEST_TIMEOUT_MS = 20_000
/** A request not settled (2xx or a final 4xx) after this long counts as unresolved. */
export const OP_DEADLINE_MS = 60_000
/** The whole run, start-up to verification; a watchdog fails it past this. */
export const RUN_DEADLINE_MS = intEnv('RELIABILITY_DEADLINE_S', 300) * 1000
export const STORM_MS = 3_000
export const OUTAGE_MS = 3_000
export const KEEP_DB = process.env.RELIABILITY_KEEP_DB === '1'
