import assert from 'node:assert/strict'
import { test } from 'node:test'
import { p2c } from './p2c.ts'
import { mulberry32, request, tally, targets } from './testing.ts'

const req = request()

/** A random source that replays `values`. */
function replay(...values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length]
}

test('of the two drawn, keeps the one with fewer in flight', () => {
  const ts = targets(['a', 'b', 'c', 'd'])
  ts[0].state.inFlight = 2
  // First draw 0 -> a; second 0.5 of the 3 others -> c (b's slot is skipped past a).
  assert.equal(p2c(ts, { random: replay(0, 0.5) }).pick(ts, req)?.address, 'c')
  ts[2].state.inFlight = 2
  assert.equal(p2c(ts, { random: replay(0, 0.5) }).pick(ts, req)?.address, 'a', 'a tie keeps the first draw')
  ts[0].state.inFlight = 3
  ts[1].state.inFlight = 0 // never drawn, so never chosen
  assert.equal(p2c(ts, { random: replay(0, 0.5) }).pick(ts, req)?.address, 'c')
})

test('compares in-flight relative to weight', () => {
  const ts = targets({ a: 4, b: 1 })
  ts[0].state.inFlight = 2 // 0.5 per unit of weight
  ts[1].state.inFlight = 1 // 1 per unit
  for (const r of [0, 0.9]) assert.equal(p2c(ts, { random: replay(r) }).pick(ts, req)?.address, 'a')
})

test('the two draws are distinct: with two eligible, the less loaded always wins', () => {
  for (const ts of [targets(['a', 'b', 'c']), targets({ a: 1, b: 5, c: 2 })]) {
    ts[2].state.inFlight = 1
    const pc = p2c(ts, { random: mulberry32(1) })
    for (let i = 0; i < 1_000; i++) assert.equal(pc.pick([ts[0], ts[2]], req)?.address, 'a')
  }
})

test('idle shares follow weights over a long seeded run', () => {
  const ts = targets({ a: 1, b: 2, c: 3, d: 4 })
  const pc = p2c(ts, { random: mulberry32(3) })
  const counts = tally(() => pc.pick(ts, req), 100_000)
  for (const t of ts) assert.ok(Math.abs(counts[t.address] / 100_000 - t.weight / 10) < 0.01, `${t.address}: ${counts[t.address]}`)
})

test('one eligible target is returned without drawing', () => {
  const ts = targets(['a', 'b'])
  assert.equal(p2c(ts, { random: () => assert.fail('drew a random number') }).pick([ts[0]], req)?.address, 'a')
})
