import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RetryBudget } from './retry-budget.ts'

test('the floor allows minPerSecond retries per second over ten seconds with no requests', () => {
  const budget = new RetryBudget(0.2, 1)
  let allowed = 0
  for (let i = 0; i < 100; i++) if (budget.tryRetry(5_000)) allowed++
  assert.equal(allowed, 10)
})

test('retries are capped at the ratio of requests plus the floor', () => {
  const budget = new RetryBudget(0.2, 0)
  for (let i = 0; i < 1000; i++) budget.recordRequest(1_000 + i)
  let allowed = 0
  for (let i = 0; i < 1000; i++) if (budget.tryRetry(1_999)) allowed++
  assert.equal(allowed, 200)
})

test('old seconds fall out of the window', () => {
  const budget = new RetryBudget(0.5, 0)
  for (let i = 0; i < 100; i++) budget.recordRequest(0)
  assert.equal(budget.tryRetry(500), true)
  // Eleven seconds later the requests of second 0 no longer count.
  assert.equal(budget.tryRetry(11_000), false)
})
