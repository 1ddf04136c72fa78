import t from 'tap'
import { createBatcher, type Settled } from '../../src/batcher.js'

/** A run the test releases by hand, recording what each run was given. */
function manualRuns() {
  const runs: {
    inputs: number[]
    release: (results?: Settled<string>[]) => void
    fail: (e: unknown) => void
  }[] = []
  const run = (inputs: number[]) =>
    new Promise<Settled<string>[]>((resolve, reject) => {
      runs.push({
        inputs,
        release: (results) => resolve(results ?? inputs.map((i) => ({ ok: true, value: `r${i}` }))),
        fail: reject,
      })
    })
  return { runs, run }
}

const tick = () => new Promise((r) => setImmediate(r))

t.test('a call at low load runs at the end of its event-loop turn, alone', async (t) => {
  const { runs, run } = manualRuns()
  const call = createBatcher(run, { maxBatch: 10, maxInFlight: 2 })
  const p = call(1)
  t.equal(runs.length, 0, 'not within the turn')
  await tick()
  t.same(
    runs.map((r) => r.inputs),
    [[1]],
  )
  runs[0]!.release()
  t.equal(await p, 'r1')
})

t.test('calls made in one turn share a run', async (t) => {
  const { runs, run } = manualRuns()
  const call = createBatcher(run, { maxBatch: 10, maxInFlight: 2 })
  const all = [call(1), call(2), call(3)]
  await tick()
  t.same(
    runs.map((r) => r.inputs),
    [[1, 2, 3]],
  )
  runs[0]!.release()
  t.same(await Promise.all(all), ['r1', 'r2', 'r3'])
})

t.test('calls made while every slot is busy wait and go together in the next run', async (t) => {
  const { runs, run } = manualRuns()
  const call = createBatcher(run, { maxBatch: 10, maxInFlight: 2 })
  const first = call(1)
  await tick()
  const second = call(2)
  await tick()
  const queued = [call(3), call(4)]
  await tick()
  const queuedLater = call(5)
  await tick()
  t.same(
    runs.map((r) => r.inputs),
    [[1], [2]],
    'two slots, two runs; the rest queue',
  )
  runs[0]!.release()
  await tick()
  t.same(runs[2]!.inputs, [3, 4, 5], 'the freed slot takes every queued call in one run')
  // A call made now is not added to the run already in progress: it waits for the next.
  const late = call(6)
  await tick()
  t.equal(runs.length, 3)
  runs[1]!.release()
  await tick()
  t.same(runs[3]!.inputs, [6])
  runs[2]!.release()
  runs[3]!.release()
  t.same(await Promise.all([first, second, ...queued, queuedLater, late]), [
    'r1',
    'r2',
    'r3',
    'r4',
    'r5',
    'r6',
  ])
})

t.test('a run takes at most maxBatch calls', async (t) => {
  const { runs, run } = manualRuns()
  const call = createBatcher(run, { maxBatch: 3, maxInFlight: 1 })
  const all = [1, 2, 3, 4, 5, 6, 7].map(call)
  await tick()
  t.same(runs[0]!.inputs, [1, 2, 3])
  runs[0]!.release()
  await tick()
  t.same(runs[1]!.inputs, [4, 5, 6])
  runs[1]!.release()
  await tick()
  t.same(runs[2]!.inputs, [7])
  runs[2]!.release()
  t.same(await Promise.all(all), ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'])
})

t.test('each call gets its own outcome; a run that throws fails only its own calls', async (t) => {
  const { runs, run } = manualRuns()
  const call = createBatcher(run, { maxBatch: 10, maxInFlight: 1 })
  const busy = call(0)
  await tick()
  const a = call(1)
  const b = call(2)
  runs[0]!.release()
  await tick()
  runs[1]!.release([
    { ok: true, value: 'fine' },
    { ok: false, error: new Error('only b') },
  ])
  t.equal(await busy, 'r0')
  t.equal(await a, 'fine')
  await t.rejects(b, { message: 'only b' })

  const c = call(3)
  await tick()
  const d = call(4)
  await tick()
  runs[2]!.fail(new Error('run failed'))
  await t.rejects(c, { message: 'run failed' })
  await tick()
  runs[3]!.release()
  t.equal(await d, 'r4', 'the next run goes on after a failed one')
})

t.test('a run that answers fewer results than inputs rejects the unanswered calls', async (t) => {
  const { runs, run } = manualRuns()
  const call = createBatcher(run, { maxBatch: 10, maxInFlight: 1 })
  const a = call(1)
  await tick()
  runs[0]!.release([])
  await t.rejects(a, { message: /fewer results/ })
})
