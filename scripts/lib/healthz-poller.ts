/**
 * A `/healthz` poller on its own thread: it asks a listening server every `everyMs` over real HTTP and keeps
 * the longest wait. Its own event loop is not the server's, so a server that stalls its loop shows as a long
 * wait (a poller on the server's thread would itself be stalled, and measure nothing).
 */
import { Worker } from 'node:worker_threads'

export interface HealthzWaits {
  /** Answers received (each a 200). */
  answers: number
  /** The longest wait for an answer, in ms, counting a request still unanswered at the end. */
  longestMs: number
  /** Requests that failed or answered something else than 200. */
  failures: string[]
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { url, everyMs } = workerData
const waits = { answers: 0, longestMs: 0, failures: [] }
let pendingSince
let stopped = false
async function ask() {
  pendingSince = performance.now()
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(30000) })
    await res.arrayBuffer()
    if (res.status === 200) waits.answers++
    else waits.failures.push('status ' + res.status)
  } catch (err) {
    waits.failures.push(String(err))
  }
  waits.longestMs = Math.max(waits.longestMs, performance.now() - pendingSince)
  pendingSince = undefined
}
async function loop() {
  await ask()
  parentPort.postMessage('started')
  while (!stopped) {
    const started = performance.now()
    await ask()
    await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (performance.now() - started))))
  }
}
loop()
parentPort.on('message', () => {
  stopped = true
  if (pendingSince !== undefined) waits.longestMs = Math.max(waits.longestMs, performance.now() - pendingSince)
  parentPort.postMessage(waits)
})
`

/**
 * Starts polling `${address}/healthz` (resolves once the first answer came); `stop()` ends it and answers
 * what it saw.
 */
export async function pollHealthz(
  address: string,
  everyMs = 50,
): Promise<{ stop: () => Promise<HealthzWaits> }> {
  const worker = new Worker(WORKER, { eval: true, workerData: { url: `${address}/healthz`, everyMs } })
  await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  return {
    stop: async () => {
      const answer = new Promise<HealthzWaits>((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
      })
      worker.postMessage('stop')
      const waits = await answer
      await worker.terminate()
      return waits
    },
  }
}
