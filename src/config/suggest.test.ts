import assert from 'node:assert/strict'
import { test } from 'node:test'
import { closest, didYouMean, editDistance } from './suggest.ts'

test('edit distance', () => {
  assert.equal(editDistance('forwrd', 'forward'), 1)
  assert.equal(editDistance('', 'abc'), 3)
  assert.equal(editDistance('kitten', 'sitting'), 3)
})

test('suggests close names only', () => {
  const keys = ['match', 'forward', 'redirect', 'respond']
  assert.equal(closest('forwrd', keys), 'forward')
  assert.equal(closest('Forward', keys), 'forward')
  assert.equal(closest('x', keys), undefined)
  assert.equal(closest('headers', keys), undefined)
  assert.equal(didYouMean('roundrobin', ['round-robin', 'random']), '; did you mean "round-robin"?')
  assert.equal(didYouMean('zzz', ['round-robin']), '')
})
