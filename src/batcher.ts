/** What `run` answers for one input: its value, or the error that input alone gets. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown }

export interface BatcherOptions {
  /** Most inputs handed to one `run`. */
  maxBatch: number
  /** Most `run`s in progress at once; calls arriving while all are busy wait and go together in the next. */
  maxInFlight: number
}

/**
 * Coalesces concurrent calls into fewer calls of `run` (group commit). While fewer than `maxInFlight` runs
 * are in progress, a call starts a run at the end of the current event-loop turn, with whatever other calls
 * that turn made — at low load, alone, with no waiting; calls made while every slot is busy queue, and the
 * next free slot takes them all (up to `maxBatch`) in one run. So the busier the service, the more inputs
 * share a statement, a round trip and a commit.
 *
 * Every input is read by a run that starts after its call, never by one already in progress, so batching
 * changes no answer's freshness (an API key revoked before a request is refused by that request).
 * `run` answers each input separately, in order; if `run` itself throws, every input of the batch gets
 * that error.
 */
export function createBatcher<I, O>(
  run: (inputs: I[]) => Promise<Settled<O>[]>,
  opts: BatcherOptions,
): (input: I) => Promise<O> {
  const queue: { input: I; resolve: (value: O) => void; reject: (error: unknown) => void }[] = []
  let inFlight = 0

  function dispatch() {
    while (inFlight < opts.maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, opts.maxBatch)
      inFlight++
      run(batch.map((b) => b.input))
        .then(
          (results) => {
            batch.forEach((b, i) => {
              const r = results[i]
              if (!r) b.reject(new Error('batch run returned fewer results than inputs'))
              else if (r.ok) b.resolve(r.value)
              else b.reject(r.error)
            })
          },
          (error: unknown) => {
            for (const b of batch) b.reject(error)
          },
        )
        .finally(() => {
          inFlight--
          dispatch()
        })
    }
  }

  let scheduled = false
  return (input) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ input, resolve, reject })
      // Start at the end of this turn of the event loop, not at once: calls made in the same turn (requests
      // that arrived together) share a run even when a slot is free.
      if (!scheduled) {
        scheduled = true
        setImmediate(() => {
          scheduled = false
          dispatch()
        })
      }
    })
}

/** Runs `f` and captures its outcome as a `Settled`. */
export async function settle<O>(f: () => Promise<O>): Promise<Settled<O>> {
  try {
    return { ok: true, value: await f() }
  } catch (error) {
    return { ok: false, error }
  }
}
