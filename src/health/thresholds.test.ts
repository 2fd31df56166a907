import { test } from 'node:test'
import assert from 'node:assert/strict'
import { observeCheck, parseMatcher, type CheckedState } from './thresholds.ts'

const t = { healthyThreshold: 3, unhealthyThreshold: 2 }

function run(start: CheckedState, results: boolean[]): CheckedState[] {
  const streak = { passes: 0, fails: 0 }
  let state = start
  return results.map((ok) => (state = observeCheck(state, streak, ok, t)))
}

test('initial turns healthy after healthyThreshold passes in a row', () => {
  assert.deepEqual(run('initial', [true, true, true]), ['initial', 'initial', 'healthy'])
  assert.deepEqual(run('initial', [true, true, false, true, true, true]), ['initial', 'initial', 'initial', 'initial', 'initial', 'healthy'])
})

test('healthy turns unhealthy after unhealthyThreshold failures in a row, and back after healthyThreshold passes', () => {
  assert.deepEqual(run('healthy', [false, true, false, false]), ['healthy', 'healthy', 'healthy', 'unhealthy'])
  assert.deepEqual(run('unhealthy', [true, true, false, true, true, true]), ['unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'healthy'])
})

test('initial can fail straight to unhealthy', () => {
  assert.deepEqual(run('initial', [false, false]), ['initial', 'unhealthy'])
})

test('matchers: codes, ranges, lists', () => {
  const m = parseMatcher('200-299, 302')
  assert.deepEqual([199, 200, 250, 299, 300, 302, 404].map(m), [false, true, true, true, false, true, false])
  assert.equal(parseMatcher('200')(200), true)
  assert.equal(parseMatcher('200')(204), false)
})
