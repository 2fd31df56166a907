import { test } from 'node:test'
import assert from 'node:assert/strict'
import { authorized } from './auth.ts'

test('no token configured: every request passes', () => {
  assert.equal(authorized({}, undefined), true)
})

test('a token: only "Bearer <token>" passes', () => {
  assert.equal(authorized({ authorization: 'Bearer s3cret' }, 's3cret'), true)
  assert.equal(authorized({ authorization: 'bearer s3cret' }, 's3cret'), true)
  for (const authorization of [undefined, '', 's3cret', 'Bearer', 'Bearer s3cre', 'Bearer s3cret2', 'Basic s3cret', 'Bearer s3cret x']) {
    assert.equal(authorized(authorization === undefined ? {} : { authorization }, 's3cret'), false, String(authorization))
  }
})
