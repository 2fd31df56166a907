import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TargetState } from '../targets/target-state.ts'
import { passivelyAvailable, beginAttempt, recordFailure, recordSuccess } from './passive.ts'

const policy = { maxFails: 2, failTimeout: 10_000 }

test('maxFails failures within failTimeout mark the target down for failTimeout', () => {
  const s = new TargetState('a:1')
  assert.equal(recordFailure(s, policy, 0), false)
  assert.equal(passivelyAvailable(s, 1), true)
  assert.equal(recordFailure(s, policy, 5_000), true)
  assert.equal(passivelyAvailable(s, 5_001), false)
  assert.equal(passivelyAvailable(s, 14_999), false)
  assert.equal(passivelyAvailable(s, 15_000), true)
})

test('failures further apart than failTimeout do not add up', () => {
  const s = new TargetState('a:1')
  recordFailure(s, policy, 0)
  assert.equal(recordFailure(s, policy, 10_001), false)
  assert.equal(passivelyAvailable(s, 10_002), true)
})

test('after failTimeout one trial request decides; others wait for it', () => {
  const s = new TargetState('a:1')
  recordFailure(s, policy, 0)
  recordFailure(s, policy, 1)
  beginAttempt(s, 20_000)
  assert.equal(passivelyAvailable(s, 20_000), false, 'only one trial at a time')
  assert.equal(recordSuccess(s), true)
  assert.equal(passivelyAvailable(s, 20_001), true)
  assert.equal(s.downUntil, 0)
})

test('a failed trial sends the target down again for failTimeout', () => {
  const s = new TargetState('a:1')
  recordFailure(s, policy, 0)
  recordFailure(s, policy, 1)
  beginAttempt(s, 20_000)
  assert.equal(recordFailure(s, policy, 20_100), true)
  assert.equal(passivelyAvailable(s, 30_099), false)
  assert.equal(passivelyAvailable(s, 30_100), true)
})

test('maxFails 0 turns passive checks off', () => {
  const s = new TargetState('a:1')
  for (let i = 0; i < 10; i++) recordFailure(s, { maxFails: 0, failTimeout: 10_000 }, i)
  assert.equal(passivelyAvailable(s, 10), true)
})
