import assert from 'node:assert/strict'
import { test } from 'node:test'
import { leastConn } from './least-conn.ts'
import { addresses, request, targets } from './testing.ts'

const req = request()

test('picks the target with the fewest requests in flight', () => {
  const ts = targets(['a', 'b', 'c'])
  ts[0].state.inFlight = 3
  ts[1].state.inFlight = 1
  ts[2].state.inFlight = 2
  assert.equal(leastConn(ts, {}).pick(ts, req)?.address, 'b')
})

test('compares in-flight relative to weight', () => {
  const ts = targets({ a: 3, b: 1 })
  ts[0].state.inFlight = 2 // 2/3 per unit of weight
  ts[1].state.inFlight = 1 // 1 per unit
  assert.equal(leastConn(ts, {}).pick(ts, req)?.address, 'a')
  ts[0].state.inFlight = 4 // 4/3 > 1
  assert.equal(leastConn(ts, {}).pick(ts, req)?.address, 'b')
})

test('ties go to smooth weighted round robin: idle targets with weights 5,1,1 give a a b a c a a', () => {
  const ts = targets({ a: 5, b: 1, c: 1 })
  const lc = leastConn(ts, {})
  assert.deepEqual(addresses(() => lc.pick(ts, req), 7), [...'aabacaa'])
})

test('only the tied least loaded take part in the round robin', () => {
  const ts = targets(['a', 'b', 'c', 'd'])
  ts[0].state.inFlight = 1
  ts[2].state.inFlight = 1
  const lc = leastConn(ts, {})
  assert.deepEqual(addresses(() => lc.pick(ts, req), 4), [...'bdbd'])
})

test('requests that never finish spread by weight', () => {
  const ts = targets({ a: 2, b: 1 })
  const lc = leastConn(ts, {})
  for (let i = 0; i < 30; i++) lc.pick(ts, req)!.state.inFlight++
  assert.deepEqual([ts[0].state.inFlight, ts[1].state.inFlight], [20, 10])
})

test('picks among eligible only', () => {
  const ts = targets(['a', 'b', 'c'])
  ts[2].state.inFlight = 5
  assert.equal(leastConn(ts, {}).pick([ts[2]], req)?.address, 'c')
})
