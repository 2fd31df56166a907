import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HealthStore, admits, healthMode } from './target-health.ts'

test('healthy targets take traffic; initial ones only when none is healthy', () => {
  assert.equal(healthMode(['initial', 'healthy', 'unhealthy'], true), 'healthy')
  assert.equal(healthMode(['initial', 'unhealthy', 'draining'], true), 'initial')
  assert.equal(admits('healthy', 'initial'), false)
  assert.equal(admits('initial', 'initial'), true)
  assert.equal(admits('initial', 'unhealthy'), false)
})

test('all unhealthy: fail open uses them all, fail closed none; draining never takes traffic', () => {
  assert.equal(healthMode(['unhealthy', 'unhealthy', 'draining'], true), 'fail-open')
  assert.equal(healthMode(['unhealthy', 'unhealthy'], false), 'none')
  assert.equal(admits('fail-open', 'unhealthy'), true)
  assert.equal(admits('fail-open', 'draining'), false)
  assert.equal(healthMode(['draining'], true), 'none')
  assert.equal(healthMode([], true), 'none')
})

test('the store bumps its version only on change and outlives generations by key', () => {
  const store = new HealthStore()
  const h = store.get('web', 'a:1', 'initial')
  const v = store.version
  assert.equal(store.set('web', 'a:1', 'initial'), false)
  assert.equal(store.version, v)
  assert.equal(store.set('web', 'a:1', 'healthy'), true)
  assert.equal(h.state, 'healthy')
  assert.equal(store.get('web', 'a:1', 'initial'), h, 'same object for the same group and address')
  assert.notEqual(store.get('api', 'a:1', 'initial'), h, 'health is per group')
})
