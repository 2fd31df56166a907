import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decayedLatency, observeLatency } from './latency.ts'
import { TargetState } from './target-state.ts'

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`)

test('the first sample is taken as is, and stamps the time', () => {
  const s = new TargetState('a:1')
  observeLatency(s, 40, 1_000)
  assert.equal(s.latencyEwma, 40)
  assert.equal(s.latencyAt, 1_000)
})

test('a slower sample counts in full at once (the peak)', () => {
  const s = new TargetState('a:1')
  observeLatency(s, 10, 0)
  observeLatency(s, 200, 1)
  assert.equal(s.latencyEwma, 200)
})

test('a faster sample is blended with weight exp(-elapsed / decay)', () => {
  const s = new TargetState('a:1')
  observeLatency(s, 100, 0)
  observeLatency(s, 50, 10_000)
  close(s.latencyEwma, 100 * Math.exp(-1) + 50 * (1 - Math.exp(-1)))
  assert.equal(s.latencyAt, 10_000)
})

test('a faster sample at the same instant changes nothing; a long pause forgets the past', () => {
  const s = new TargetState('a:1')
  observeLatency(s, 100, 5)
  observeLatency(s, 10, 5)
  assert.equal(s.latencyEwma, 100)
  observeLatency(s, 10, 5 + 1_000_000)
  close(s.latencyEwma, 10)
})

test('decayMs sets how fast the past fades', () => {
  const s = new TargetState('a:1')
  observeLatency(s, 100, 0, 1_000)
  observeLatency(s, 0, 1_000, 1_000)
  close(s.latencyEwma, 100 * Math.exp(-1))
})

test('an out-of-order or invalid sample does not corrupt the average', () => {
  const s = new TargetState('a:1')
  observeLatency(s, 100, 10_000)
  observeLatency(s, 50, 9_000) // stamped before the last one: no decay
  assert.equal(s.latencyEwma, 100)
  observeLatency(s, Number.NaN, 20_000)
  observeLatency(s, -1, 20_000)
  assert.equal(s.latencyEwma, 100)
  assert.equal(s.latencyAt, 9_000)
})

test('decayedLatency fades the average toward 0 while no samples come, without writing it', () => {
  const s = new TargetState('a:1')
  assert.equal(decayedLatency(s, 50_000), 0)
  observeLatency(s, 100, 0)
  assert.equal(decayedLatency(s, 0), 100)
  close(decayedLatency(s, 10_000), 100 * Math.exp(-1))
  close(decayedLatency(s, 1_000, 1_000), 100 * Math.exp(-1))
  assert.equal(s.latencyEwma, 100)
})
