import assert from 'node:assert/strict'
import { test } from 'node:test'
import { leastTime } from './least-time.ts'
import { addresses, request, targets } from './testing.ts'

const req = request()

/** Targets with latencies (0 = unmeasured), all sampled at time 0. */
function measured(latencies: Record<string, number>, weights: Record<string, number> = {}) {
  const ts = targets(Object.fromEntries(Object.keys(latencies).map((a) => [a, weights[a] ?? 1])))
  for (const t of ts) t.state.latencyEwma = latencies[t.address]
  return ts
}

test('prefers the lowest latency', () => {
  const ts = measured({ a: 50, b: 10, c: 30 })
  assert.equal(leastTime(ts, { now: () => 0 }).pick(ts, req)?.address, 'b')
})

test('tries unmeasured targets first, so new targets get measured', () => {
  const ts = measured({ a: 1, b: 0, c: 2 })
  assert.equal(leastTime(ts, { now: () => 0 }).pick(ts, req)?.address, 'b')
})

test('scales latency by in-flight + 1 and divides by weight', () => {
  const ts = measured({ a: 10, b: 30 })
  ts[0].state.inFlight = 4 // 10 × 5 = 50 > 30
  assert.equal(leastTime(ts, { now: () => 0 }).pick(ts, req)?.address, 'b')

  const weighted = measured({ a: 20, b: 30 }, { b: 2 }) // 20 vs 15
  assert.equal(leastTime(weighted, { now: () => 0 }).pick(weighted, req)?.address, 'b')
})

test('ties (all unmeasured) go round robin by weight', () => {
  const ts = measured({ a: 0, b: 0, c: 0 }, { a: 5 })
  const lt = leastTime(ts, { now: () => 0 })
  assert.deepEqual(addresses(() => lt.pick(ts, req), 7), [...'aabacaa'])
})

test('a target slow long ago is retried once its average has decayed below the others', () => {
  const ts = measured({ a: 100, b: 50 })
  ts[1].state.latencyAt = 20_000 // b was measured recently, a 20 s ago
  let now = 0
  const lt = leastTime(ts, { now: () => now })
  now = 20_000 // a decayed to 100 × e^-2 ≈ 13.5 ms, b is at 50 ms
  assert.equal(lt.pick(ts, req)?.address, 'a')
  ts[0].state.latencyAt = 20_000 // as if a had just been measured at 100 ms again
  assert.equal(lt.pick(ts, req)?.address, 'b')
})

test('picks among eligible only', () => {
  const ts = measured({ a: 50, b: 10, c: 30 })
  assert.equal(leastTime(ts, { now: () => 0 }).pick([ts[0], ts[2]], req)?.address, 'c')
})
