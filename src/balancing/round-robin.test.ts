import assert from 'node:assert/strict'
import { test } from 'node:test'
import { roundRobin } from './round-robin.ts'
import { addresses, request, targets } from './testing.ts'

const req = request()

test('weights 5,1,1 give nginx\'s smooth order a a b a c a a, repeating', () => {
  const ts = targets({ a: 5, b: 1, c: 1 })
  const rr = roundRobin(ts, {})
  assert.deepEqual(addresses(() => rr.pick(ts, req), 14), [...'aabacaa', ...'aabacaa'])
})

test('equal weights rotate in list order, starting with the first', () => {
  const ts = targets(['a', 'b', 'c', 'd'])
  const rr = roundRobin(ts, {})
  assert.deepEqual(addresses(() => rr.pick(ts, req), 10), [...'abcdabcdab'])
})

test('a subset rotates among itself; a target left out rejoins the rotation', () => {
  const ts = targets(['a', 'b', 'c'])
  const rr = roundRobin(ts, {})
  const [a, , c] = ts
  assert.deepEqual(addresses(() => rr.pick([a, c], req), 4), [...'acac'])
  assert.deepEqual(addresses(() => rr.pick(ts, req), 6).sort(), [...'aabbcc'])
})

test('weights 3,2 share 3:2 over every window of 5, on a copy of the target list too', () => {
  const ts = targets({ a: 3, b: 2 })
  const rr = roundRobin(ts, {})
  const picks = addresses(() => rr.pick([...ts], req), 50)
  for (let i = 0; i < 50; i += 5) assert.deepEqual(picks.slice(i, i + 5).sort(), [...'aaabb'])
})
