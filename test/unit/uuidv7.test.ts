import t from 'tap'
import { uuidv7 } from '../../src/db/uuidv7.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('version 7, variant 10, the timestamp in the first 48 bits', async (t) => {
  const at = Date.UTC(2024, 4, 20, 8, 0, 0, 123)
  const id = uuidv7(at + 10_000_000)
  t.match(id, UUID_V7)
  t.equal(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16), at + 10_000_000)
})

t.test('ids made one after another sort in creation order, even within one millisecond', async (t) => {
  const ids = Array.from({ length: 10_000 }, () => uuidv7())
  t.same([...ids].sort(), ids)
  t.equal(new Set(ids).size, ids.length)
  t.ok(ids.every((id) => UUID_V7.test(id)))
  // A clock that steps back does not break the order either.
  const later = uuidv7(Date.now() + 5_000)
  t.ok(uuidv7(Date.now()) > later)
})
