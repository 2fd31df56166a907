import { test } from 'node:test'
import assert from 'node:assert/strict'
import { algorithms } from '../balancing/registry.ts'
import { request, tally } from '../balancing/testing.ts'
import { targetGroup, type TargetGroupConfig } from '../config/schema.ts'
import { LATENCY_CHECK_MS, median, MIN_SAMPLES } from './slow-start.ts'
import { TargetGroup, type GroupTarget } from './target-group.ts'
import { HealthStore } from './target-health.ts'
import { TargetStateStore } from './target-state.ts'

/** A group of targets a, b, c (weight 10 each unless given) with an injected clock, as a generation builds it. */
function setup(group: Record<string, unknown>) {
  const clock = { now: 1_000 }
  const store = new TargetStateStore()
  const health = new HealthStore(() => clock.now)
  const build = (extra: Record<string, unknown> = {}): TargetGroup => {
    const config = targetGroup.parse({ targets: ['a:1', 'b:1', 'c:1'].map((address) => ({ address, weight: 10 })), ...group, ...extra })
    return new TargetGroup('app', config as TargetGroupConfig, store, health, algorithms['round-robin'],
      (address) => ({ host: address.split(':')[0], port: Number(address.split(':')[1]) }))
  }
  return { clock, store, health, build }
}

const req = request()
const byAddress = (g: TargetGroup, address: string): GroupTarget => g.targets.find((t) => t.address === address) as GroupTarget
/** The weights the algorithm sees at `now` (a pick sets the time of the weights). */
const weightsAt = (g: TargetGroup, now: number): number[] => {
  g.pick(req, undefined, now)
  return g.targets.map((t) => Math.round(t.weight * 100) / 100)
}
const checked = { healthCheck: { protocol: 'tcp' } }

test('the ramp: 10% on entry, 55% half-way, then the plain weight', () => {
  const { clock, health, build } = setup({ slowStart: 1_000, ...checked })
  const g = build()
  health.set('app', 'a:1', 'healthy')
  health.set('app', 'b:1', 'healthy')
  assert.deepEqual(weightsAt(g, clock.now), [10, 10, 10], 'the first healthy targets start together at full weight')
  clock.now = 5_000
  health.set('app', 'c:1', 'healthy')
  assert.deepEqual(weightsAt(g, 5_000), [10, 10, 1])
  assert.deepEqual(weightsAt(g, 5_500), [10, 10, 5.5])
  assert.deepEqual(weightsAt(g, 5_900), [10, 10, 9.1])
  assert.deepEqual(weightsAt(g, 6_000), [10, 10, 10])
  assert.deepEqual(weightsAt(g, 60_000), [10, 10, 10])
})

test('random and p2c, which cache weight sums, get no ramp (a skewed draw would be worse than none)', () => {
  for (const algorithm of ['random', 'p2c'] as const) {
    const { clock, health, build } = setup({ slowStart: 1_000, algorithm })
    const g = build()
    weightsAt(g, clock.now)
    health.set('app', 'c:1', 'unhealthy')
    health.set('app', 'c:1', 'healthy')
    assert.deepEqual(weightsAt(g, clock.now), [10, 10, 10], algorithm)
  }
})

test('weights stay plain fields, with or without slow start, so algorithms see one object shape', () => {
  for (const group of [{}, { slowStart: 1_000 }]) {
    const g = setup(group).build()
    g.pick(req, undefined, 0)
    for (const t of g.targets) assert.equal(Object.getOwnPropertyDescriptor(t, 'weight')?.value, 10)
  }
})

test('the first generation starts at full weight; a target added by a reload ramps', () => {
  const { clock, build } = setup({ slowStart: 2_000 })
  const first = build()
  assert.deepEqual(weightsAt(first, clock.now), [10, 10, 10])
  clock.now = 10_000
  const second = build({ targets: ['a:1', 'b:1', 'c:1', 'd:1'].map((address) => ({ address, weight: 10 })) })
  assert.deepEqual(weightsAt(second, 10_000), [10, 10, 10, 1])
  assert.deepEqual(weightsAt(second, 11_000), [10, 10, 10, 5.5])
  const third = build({ targets: ['a:1', 'b:1', 'c:1', 'd:1'].map((address) => ({ address, weight: 10 })) })
  assert.deepEqual(weightsAt(third, 11_000), [10, 10, 10, 5.5], 'a ramp outlives the reload that follows it')
})

test('turning healthy again ramps again; leaving healthy ends a ramp; a passive recovery ramps', () => {
  const { clock, health, build } = setup({ slowStart: 1_000 })
  const g = build()
  weightsAt(g, clock.now)
  health.set('app', 'c:1', 'unhealthy')
  weightsAt(g, clock.now)
  clock.now = 3_000
  health.set('app', 'c:1', 'healthy')
  assert.deepEqual(weightsAt(g, 3_000), [10, 10, 1])
  health.set('app', 'c:1', 'draining')
  assert.equal(weightsAt(g, 3_100)[2], 10, 'out of its ramp (and out of traffic)')
  clock.now = 7_000
  g.recovered(byAddress(g, 'b:1'))
  assert.deepEqual(weightsAt(g, 7_500), [10, 5.5, 10])
})

test('no target ramps without a warm peer: targets that turn healthy together start together', () => {
  const { clock, health, build } = setup({ slowStart: 1_000, ...checked })
  const g = build()
  weightsAt(g, clock.now)
  health.set('app', 'a:1', 'healthy')
  health.set('app', 'b:1', 'healthy')
  health.set('app', 'c:1', 'healthy')
  assert.deepEqual(weightsAt(g, clock.now), [10, 10, 10])
})

test('a ramping target gets its reduced share from round robin', () => {
  const { clock, health, build } = setup({ slowStart: 60_000, ...checked })
  const g = build()
  health.set('app', 'a:1', 'healthy')
  health.set('app', 'b:1', 'healthy')
  g.pick(req, undefined, clock.now)
  health.set('app', 'c:1', 'healthy')
  const counts = tally(() => g.pick(req, undefined, clock.now), 2_100)
  assert.deepEqual(counts, { 'a:1': 1_000, 'b:1': 1_000, 'c:1': 100 })
})

test('until latency: the ramp ends once the target answers as fast as its warm peers', () => {
  const { clock, store, health, build } = setup({ slowStart: { until: 'latency', max: 9_000 }, ...checked })
  const g = build()
  health.set('app', 'a:1', 'healthy')
  health.set('app', 'b:1', 'healthy')
  g.pick(req, undefined, clock.now)
  for (const [address, ms] of [['a:1', 10], ['b:1', 12]] as const) {
    store.get(address).latencyEwma = ms
    store.get(address).requests = 100
  }
  health.set('app', 'c:1', 'healthy')
  assert.equal(weightsAt(g, 1_000)[2], 1)
  const c = store.get('c:1')
  c.latencyEwma = 200
  c.requests = MIN_SAMPLES
  assert.equal(weightsAt(g, 1_000 + LATENCY_CHECK_MS)[2], 1.1, 'still slow: still ramping, over max')
  c.latencyEwma = 13
  c.requests = MIN_SAMPLES - 1
  assert.equal(weightsAt(g, 1_000 + 2 * LATENCY_CHECK_MS)[2], 1.2, 'fast but too few samples yet')
  c.requests = MIN_SAMPLES
  assert.equal(weightsAt(g, 1_000 + 2 * LATENCY_CHECK_MS + 10)[2], 1.21, 'compared at most every LATENCY_CHECK_MS')
  assert.equal(weightsAt(g, 1_000 + 3 * LATENCY_CHECK_MS)[2], 10, 'within 1.2 × the median of 10 and 12')
})

test('until latency: the ramp ends at max whatever the latency', () => {
  const { clock, store, health, build } = setup({ slowStart: { until: 'latency', max: 2_000 }, ...checked })
  const g = build()
  health.set('app', 'a:1', 'healthy')
  health.set('app', 'b:1', 'healthy')
  g.pick(req, undefined, clock.now)
  store.get('a:1').latencyEwma = 10
  health.set('app', 'c:1', 'healthy')
  store.get('c:1').latencyEwma = 500
  store.get('c:1').requests = 100
  assert.equal(weightsAt(g, 2_000)[2], 5.5)
  assert.equal(weightsAt(g, 3_000)[2], 10)
})

test('median', () => {
  assert.equal(median([]), 0)
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 3, 2]), 2.5)
})
