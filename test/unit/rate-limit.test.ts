import t from 'tap'
import { clientOf, createWindowCounter } from '../../src/plugins/rate-limit.js'

t.test('a window counts its limit, then answers the seconds left until it ends', async (t) => {
  let now = 0
  const counter = createWindowCounter(2, { windowMs: 60_000, now: () => now })
  t.equal(counter.hit('a'), undefined)
  t.equal(counter.hit('a'), undefined)
  t.equal(counter.exhausted('a'), 60, 'exhausted counts nothing')
  now = 20_500
  t.equal(counter.hit('a'), 40, 'over the limit: 39.5 s left, rounded up')
  t.equal(counter.hit('b'), undefined, 'each key its own window')
  now = 60_000
  t.equal(counter.hit('a'), undefined, 'a new window')
  t.equal(counter.exhausted('a'), undefined)
})

t.test(
  'memory stays bounded: expired windows are swept, the oldest live one dropped when full',
  async (t) => {
    let now = 0
    const counter = createWindowCounter(1, { windowMs: 1000, maxKeys: 100, now: () => now })
    for (let i = 0; i < 10_000; i++) {
      counter.hit(`k${i}`)
      now += 0.01
    }
    t.equal(counter.size, 100, 'never more than maxKeys')
    t.equal(counter.exhausted('k9999'), 1, 'the newest are kept')
    t.equal(counter.exhausted('k0'), undefined, 'the oldest were dropped')
    now += 1000
    counter.hit('late')
    t.equal(counter.size, 1, 'every expired window swept on the next call')
  },
)

t.test('the client of an address: itself, its IPv4 when mapped, its /64 for IPv6', async (t) => {
  t.equal(clientOf('203.0.113.7'), '203.0.113.7')
  t.equal(clientOf('::ffff:203.0.113.7'), '203.0.113.7')
  t.equal(clientOf('2001:db8:1:2::5'), '2001:db8:1:2::/64')
  t.equal(clientOf('2001:0DB8:0001:0002:ffff:0:0:9'), '2001:db8:1:2::/64')
  t.equal(clientOf('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(clientOf('::1'), '0:0:0:0::/64')
  t.equal(clientOf('fe80::1%eth0'), 'fe80:0:0:0::/64')
  t.equal(clientOf('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64')
})
