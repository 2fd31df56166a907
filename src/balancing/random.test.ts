import assert from 'node:assert/strict'
import { test } from 'node:test'
import { random } from './random.ts'
import { mulberry32, request, tally, targets } from './testing.ts'

const req = request()
const fixed = (r: number) => () => r

test('draws by weight: weights 1,2,3 split [0, 1) into sixths 1:2:3', () => {
  const ts = targets({ a: 1, b: 2, c: 3 })
  const at = (r: number) => random(ts, { random: fixed(r) }).pick(ts, req)?.address
  assert.deepEqual([0, 0.16, 0.17, 0.49, 0.5, 0.99, 1 - 2 ** -53].map(at), [...'aabbccc'])
})

test('a subset draws over its own weights', () => {
  const ts = targets({ a: 1, b: 2, c: 3 })
  const at = (r: number) => random(ts, { random: fixed(r) }).pick([ts[0], ts[2]], req)?.address
  assert.deepEqual([0.24, 0.25].map(at), ['a', 'c'])
})

test('equal weights draw uniformly, even for r just below 1', () => {
  const ts = targets(['a', 'b', 'c'])
  const at = (r: number) => random(ts, { random: fixed(r) }).pick(ts, req)?.address
  assert.deepEqual([0, 0.34, 0.67, 1 - 2 ** -53].map(at), [...'abcc'])
})

test('shares follow weights over a long seeded run', () => {
  const ts = targets({ a: 1, b: 2, c: 3, d: 4 })
  const rnd = random(ts, { random: mulberry32(7) })
  const counts = tally(() => rnd.pick(ts, req), 100_000)
  for (const t of ts) assert.ok(Math.abs(counts[t.address] / 100_000 - t.weight / 10) < 0.01, `${t.address}: ${counts[t.address]}`)
})

test('one eligible target is returned without drawing', () => {
  const ts = targets(['a', 'b'])
  const never = () => assert.fail('drew a random number')
  assert.equal(random(ts, { random: never }).pick([ts[1]], req)?.address, 'b')
})
