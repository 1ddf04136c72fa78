import fc from 'fast-check'
import t from 'tap'
import { checkEncoding } from '../../src/modules/purchases/import/csv-reader.js'

/** The offset of the first bad byte, found the slow, obvious way: the longest valid prefix. */
function firstBadByte(bytes: Buffer): number {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let lo = 0 // bytes[0, lo) is valid
  let hi = bytes.length
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    // A prefix is valid when it decodes, once a character cut at its end is completed by what follows.
    let ok = false
    for (let extra = 0; extra <= 3 && mid + extra <= bytes.length && !ok; extra++) {
      try {
        decoder.decode(bytes.subarray(0, mid + extra))
        ok = true
      } catch {}
    }
    if (ok) lo = mid
    else hi = mid - 1
  }
  return lo
}

/** The offset and line checkEncoding reports for a file that is not UTF-8. */
async function reported(bytes: Buffer): Promise<{ offset: number; line: number }> {
  try {
    await checkEncoding(bytes, 'utf-8')
  } catch (err) {
    const m = /first bad byte at offset (\d+), line (\d+)/.exec((err as Error).message)
    if (m) return { offset: Number(m[1]), line: Number(m[2]) }
    throw err
  }
  throw new Error('no error')
}

const CHARS = ['a', '\n', ',', 'é', '保', '𠀀', '\ufffd']
const BAD = [[0xff], [0x80], [0xe4, 0x41], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98]]

t.test('the first bad byte is found exactly, wherever it falls among the 64 KiB windows', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom(...CHARS), { minLength: 40_000, maxLength: 60_000 }),
      fc.constantFrom(...BAD),
      fc.oneof(fc.constantFrom(65_533, 65_534, 65_535, 65_536, 65_537, 131_071, 131_072), fc.nat(150_000)),
      async (chars, bad, at) => {
        const text = Buffer.from(chars.join(''))
        const cut = Math.min(at, text.length)
        const bytes = Buffer.concat([text.subarray(0, cut), Buffer.from(bad), text.subarray(cut)])
        const offset = firstBadByte(bytes)
        const line = 1 + bytes.subarray(0, offset).filter((b) => b === 0x0a).length
        t.same(await reported(bytes), { offset, line }, `bad ${bad} at ${cut}`)
      },
    ),
    { numRuns: 200 },
  )
})
