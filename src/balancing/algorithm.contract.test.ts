/**
 * One suite run against every registered algorithm (as Hono's router/common.case.test.ts): picks only
 * from `eligible`, always picks from a non-empty list, honours weights, and (for the hashing ones) sticks.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AlgorithmName } from '../config/schema.ts'
import type { RequestFacts, Target } from './algorithm.ts'
import { algorithms } from './registry.ts'
import { mulberry32, request, tally, targets } from './testing.ts'

/**
 * How weights show: `exact` counts over a whole number of rounds (while idle, least-conn and least-time tie
 * and fall to smooth round robin); `sampled` within 1% over 100,000 seeded draws; `ring` within 4% over
 * 20,000 keys, since a ring's share is set by where the points happen to fall.
 */
const WEIGHTS: Record<AlgorithmName, 'exact' | 'sampled' | 'ring'> = {
  'round-robin': 'exact',
  'least-conn': 'exact',
  'least-time': 'exact',
  random: 'sampled',
  p2c: 'sampled',
  'ip-hash': 'ring',
  hash: 'ring',
}

const keyed = (i: number): RequestFacts =>
  request({ url: `/k/${i}`, clientIp: `10.0.${(i >> 8) & 255}.${i & 255}`, headers: { 'x-key': `key-${i}` } })

for (const name of Object.keys(algorithms) as AlgorithmName[]) {
  const make = (ts: readonly Target[], seed = 1) =>
    algorithms[name](ts, { hashKey: 'header:x-key', random: mulberry32(seed), now: () => 0 })

  describe(name, () => {
    test('is registered under its config name', () => {
      assert.equal(make(targets(['a'])).name, name)
    })

    test('builds for an empty group, and an empty eligible list gives undefined', () => {
      assert.equal(make([]).pick([], keyed(0)), undefined)
    })

    test('every non-empty subset of five targets gets a target of that subset', () => {
      const ts = targets({ a: 1, b: 2, c: 3, d: 4, e: 5 })
      const algorithm = make(ts)
      for (let mask = 1; mask < 32; mask++) {
        const eligible = ts.filter((t) => mask & (1 << t.index))
        for (let i = 0; i < 20; i++) {
          const picked = algorithm.pick(eligible, keyed(i))
          assert.ok(picked !== undefined && eligible.includes(picked), `subset ${mask}: picked ${picked?.address}`)
        }
      }
    })

    test('never leaves eligible, whatever the load, latency and subset', () => {
      const ts = targets({ a: 1, b: 1, c: 2, d: 3, e: 5, f: 8 })
      const algorithm = make(ts, 2)
      const rnd = mulberry32(99)
      for (let i = 0; i < 5_000; i++) {
        for (const t of ts) {
          t.state.inFlight = Math.floor(rnd() * 4)
          t.state.latencyEwma = rnd() < 0.2 ? 0 : rnd() * 100
        }
        const eligible = ts.filter(() => rnd() < 0.5)
        if (eligible.length === 0) continue
        const picked = algorithm.pick(eligible, keyed(i))
        assert.ok(picked !== undefined && eligible.includes(picked), `pick ${i}: ${picked?.address}`)
      }
    })

    test('a single eligible target is the one picked', () => {
      const ts = targets(['a', 'b', 'c'])
      const algorithm = make(ts)
      for (const t of ts) for (let i = 0; i < 10; i++) assert.equal(algorithm.pick([t], keyed(i)), t)
    })

    test('idle targets share requests by weight', () => {
      const ts = targets({ a: 1, b: 2, c: 3, d: 4 })
      const algorithm = make(ts, 5)
      const kind = WEIGHTS[name]
      if (kind === 'exact') {
        assert.deepEqual(tally(() => algorithm.pick(ts, keyed(0)), 1_000), { a: 100, b: 200, c: 300, d: 400 })
        assert.deepEqual(tally(() => algorithm.pick([ts[1], ts[3]], keyed(0)), 600), { b: 200, d: 400 })
        return
      }
      const n = kind === 'sampled' ? 100_000 : 20_000
      let i = 0
      const counts = tally(() => algorithm.pick(ts, keyed(i++)), n)
      const tolerance = kind === 'sampled' ? 0.01 : 0.04
      for (const t of ts) {
        const share = (counts[t.address] ?? 0) / n
        assert.ok(Math.abs(share - t.weight / 10) < tolerance, `${t.address}: ${share}`)
      }
    })

    const sticky = WEIGHTS[name] === 'ring'
    test('the same key reaches the same target', { skip: sticky ? false : 'spreads requests by design; no key' }, () => {
      const ts = targets(['a', 'b', 'c', 'd'])
      const algorithm = make(ts)
      for (let i = 0; i < 200; i++) {
        const home = algorithm.pick(ts, keyed(i))
        for (let j = 0; j < 5; j++) assert.equal(algorithm.pick(ts, keyed(i)), home)
      }
    })
  })
}
