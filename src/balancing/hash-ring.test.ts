/** What moves when targets change, for both ring users: `hash` (keyed by a header) and `ip-hash`. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AlgorithmFactory, RequestFacts } from './algorithm.ts'
import { hash32, HashRing, MAX_POINTS } from './hash-ring.ts'
import { hash } from './hash.ts'
import { ipHash } from './ip-hash.ts'
import { request, targets } from './testing.ts'

const KEYS = 10_000
const cases: [string, AlgorithmFactory, (i: number) => RequestFacts][] = [
  ['hash (header:x-user)', (ts, o) => hash(ts, { ...o, hashKey: 'header:x-user' }), (i) => request({ headers: { 'x-user': `user-${i}` } })],
  ['ip-hash', ipHash, (i) => request({ clientIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` })],
]
const five = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80', '10.0.0.5:80']

for (const [name, factory, keyed] of cases) {
  describe(name, () => {
    /** Where each of the KEYS goes, with `eligible` (default: all) of a group made of `addresses`. */
    function placement(addresses: string[], eligible?: (ts: ReturnType<typeof targets>) => ReturnType<typeof targets>) {
      const ts = targets(addresses)
      const algorithm = factory(ts, {})
      const subset = eligible ? eligible(ts) : ts
      return Array.from({ length: KEYS }, (_, i) => algorithm.pick(subset, keyed(i))!.address)
    }
    const before = placement(five.slice(0, 4))

    test('the same key reaches the same target, pick after pick', () => {
      assert.deepEqual(placement(five.slice(0, 4)), before)
    })

    test('adding a fifth target moves about a fifth of the keys, all to the new target', () => {
      const after = placement(five)
      let moved = 0
      for (let i = 0; i < KEYS; i++) {
        if (after[i] === before[i]) continue
        moved++
        assert.equal(after[i], five[4], `key ${i} moved from ${before[i]} to ${after[i]}`)
      }
      assert.ok(moved >= 0.12 * KEYS && moved <= 0.28 * KEYS, `moved ${moved} of ${KEYS}`)
    })

    test('removing a target moves only the keys that were on it', () => {
      const gone = five[1]
      const after = placement([five[0], five[2], five[3]])
      for (let i = 0; i < KEYS; i++) if (before[i] !== gone) assert.equal(after[i], before[i], `key ${i}`)
      assert.ok(!after.includes(gone))
    })

    test('skipping an ineligible target moves only its keys, spread over the others', () => {
      const skipped = five[1]
      const after = placement(five.slice(0, 4), (ts) => ts.filter((t) => t.address !== skipped))
      const landed = new Set<string>()
      for (let i = 0; i < KEYS; i++) {
        if (before[i] === skipped) landed.add(after[i])
        else assert.equal(after[i], before[i], `key ${i}`)
      }
      assert.ok(!landed.has(skipped))
      assert.equal(landed.size, 3, 'walking the ring clockwise reaches every other target')
    })

    test('keys split by weight: weight 3 against weight 1 takes about three quarters', () => {
      const ts = targets({ 'heavy:80': 3, 'light:80': 1 })
      const algorithm = factory(ts, {})
      let heavy = 0
      for (let i = 0; i < KEYS; i++) if (algorithm.pick(ts, keyed(i))!.address === 'heavy:80') heavy++
      assert.ok(Math.abs(heavy / KEYS - 0.75) < 0.05, `heavy took ${heavy} of ${KEYS}`)
    })
  })
}

test('hash32 is FNV-1a + fmix32 over a range of the string', () => {
  assert.equal(hash32('xxabcxx', 2, 5), hash32('abc'))
  assert.notEqual(hash32('a#1'), hash32('a#2'))
  assert.ok(Number.isInteger(hash32('')) && hash32('') >= 0 && hash32('') < 2 ** 32)
})

test('the marker epoch survives many subset picks; a lone eligible target is always found', () => {
  const ts = targets(five)
  const ring = new HashRing(ts)
  for (let i = 0; i < 1_000; i++) {
    const only = ts[i % 5]
    assert.equal(ring.pick([only], hash32(`k${i}`)), only)
  }
})

test('huge weights are scaled down to a bounded ring, every target keeping a point', () => {
  const ts = targets({ 'a:1': 1_000_000, 'b:1': 1 })
  const ring = new HashRing(ts)
  assert.ok(ring.size <= MAX_POINTS + 1, `${ring.size} points`)
  assert.equal(ring.pick(ts, hash32('b:1#0')), ts[1], "b keeps its first point, hash('b:1#0')")
})
