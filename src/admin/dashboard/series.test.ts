import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pointBetween, quantile, TargetSeries, type TargetSample } from './series.ts'

const s = (requests: number, buckets: Array<[number, number]>, inFlight?: number): TargetSample =>
  ({ group: 'app', address: 'a:1', requests, buckets: buckets.map(([le, count]) => ({ le, count })), inFlight })

test('quantile interpolates linearly within the bucket that holds the rank', () => {
  // 100 requests: 50 up to 0.1 s, 40 more up to 0.5 s, 10 more up to 1 s.
  const buckets = [{ le: 0.1, count: 50 }, { le: 0.5, count: 90 }, { le: 1, count: 100 }, { le: Infinity, count: 100 }]
  assert.equal(quantile(0.5, buckets), 0.1)
  assert.ok(Math.abs((quantile(0.99, buckets) as number) - 0.95) < 1e-9)
  assert.ok(Math.abs((quantile(0.25, buckets) as number) - 0.05) < 1e-9, 'the first bucket starts at 0')
  assert.equal(quantile(0.99, [{ le: 0.1, count: 0 }, { le: Infinity, count: 0 }]), null, 'no requests: unknown')
  assert.equal(quantile(0.99, [{ le: 0.1, count: 1 }, { le: 0.5, count: 1 }, { le: Infinity, count: 100 }]), 0.5,
    'in the +Inf bucket: the highest finite bound')
})

test('a point is the difference of two cumulative samples: requests/s and p99 in ms', () => {
  const before = s(1000, [[0.01, 900], [0.1, 1000], [Infinity, 1000]])
  // 200 more requests in 2 s: 100 up to 10 ms, 100 between 10 and 100 ms.
  const after = s(1200, [[0.01, 1000], [0.1, 1200], [Infinity, 1200]])
  const point = pointBetween(before, after, 2)
  assert.equal(point.rps, 100)
  // rank 198 of 200: 98/100 of the way from 10 ms to 100 ms.
  assert.equal(point.p99, 98.2)
  assert.deepEqual(pointBetween(undefined, after, 1), { rps: null, p99: null }, 'the first sample has nothing to compare with')
  assert.deepEqual(pointBetween(after, after, 1), { rps: 0, p99: null }, 'no requests: 0/s and no p99')
})

test('a counter that went down restarted: the new value is the delta', () => {
  const point = pointBetween(s(5000, [[0.1, 5000], [Infinity, 5000]]), s(10, [[0.1, 10], [Infinity, 10]]), 1)
  assert.equal(point.rps, 10)
  assert.equal(point.p99, 99)
})

test('a source without request counts gives null rates and keeps in-flight', () => {
  const series = new TargetSeries()
  const only = (inFlight: number): TargetSample[] => [{ group: 'app', address: 'a:1', inFlight }]
  series.add(only(2), 1_000)
  const frame = series.add(only(3), 2_000)
  assert.deepEqual(frame, { t: [2], counted: false, targets: [{ group: 'app', address: 'a:1', rps: [null], p99: [null], inFlight: [3] }] })
})

test('the ring keeps the last N points on one time axis; late and vanished targets', () => {
  const series = new TargetSeries(3)
  const b = (address: string, requests: number): TargetSample => ({ group: 'app', address, requests, inFlight: 0 })
  series.add([b('a:1', 0)], 1_000)
  series.add([b('a:1', 10)], 2_000)
  series.add([b('a:1', 30), b('b:2', 5)], 3_000)
  series.add([b('a:1', 60), b('b:2', 6)], 4_000)
  const frame = series.frame()
  assert.deepEqual(frame.t, [2, 3, 4])
  assert.deepEqual(frame.targets.map((t) => [t.address, t.rps]), [['a:1', [10, 20, 30]], ['b:2', [null, null, 1]]])
  assert.equal(frame.counted, true)
  series.add([b('b:2', 7)], 5_000)
  assert.deepEqual(series.frame().targets.map((t) => t.address), ['b:2'], 'a target no longer sampled is forgotten')
})

test('resume drops points older than the window and takes no rate across the gap', () => {
  const series = new TargetSeries(300)
  const b = (requests: number): TargetSample[] => [{ group: 'app', address: 'a:1', requests }]
  series.add(b(0), 1_000)
  series.add(b(10), 2_000)
  series.resume(200_000, 100_000)
  assert.deepEqual(series.frame().t, [], 'both points are older than 100 s')
  assert.deepEqual(series.add(b(1_000_000), 201_000).targets[0].rps, [null], 'no rate across the gap')
})
