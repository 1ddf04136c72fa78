/**
 * Long CPU work in slices, so that one import cannot hold the event loop: the work asks `due()` now and
 * then (a clock read) and, once SLICE_MS have passed since the loop last had a turn, awaits `pause()`, a
 * setImmediate: the sockets and timers waiting meanwhile (other requests, /healthz) are served first.
 */
import { setImmediate } from 'node:timers/promises'

/** How long the import's CPU work may hold the event loop at a time. */
const SLICE_MS = 10

export class CpuSlices {
  private since = performance.now()

  /** The current slice is used up: call pause(). */
  due(): boolean {
    return performance.now() - this.since >= SLICE_MS
  }

  /** Lets the event loop run, then starts a new slice. */
  async pause(): Promise<void> {
    await setImmediate()
    this.since = performance.now()
  }
}
