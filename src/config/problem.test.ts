import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeValue, formatPath, formatProblem } from './problem.ts'

test('formatProblem leaves out what is unknown', () => {
  const message = '"10.0.0.7" has no port; write "10.0.0.7:8080"'
  const path = 'targetGroups.api.targets[2]'
  assert.equal(formatProblem({ file: 'quickstart.yaml', line: 14, column: 9, path, message }),
    'quickstart.yaml:14:9 targetGroups.api.targets[2]: "10.0.0.7" has no port; write "10.0.0.7:8080"')
  assert.equal(formatProblem({ file: 'fulcrum.config.ts', path, message }), `fulcrum.config.ts ${path}: ${message}`)
  assert.equal(formatProblem({ file: 'f.yaml', line: 3, path: '', message: 'x' }), 'f.yaml:3: x')
  assert.equal(formatProblem({ file: 'f.yaml', path: '', message: 'x' }), 'f.yaml: x')
})

test('paths quote keys that are not plain names', () => {
  assert.equal(formatPath(['targetGroups', 'web-blue', 'targets', 0, 'address']), 'targetGroups.web-blue.targets[0].address')
  assert.equal(formatPath(['targetGroups', 'a b', 'x.y']), 'targetGroups["a b"]["x.y"]')
  assert.equal(formatPath([0]), '[0]')
})

test('values are described the way a user wrote them', () => {
  assert.equal(describeValue('x'), '"x"')
  assert.equal(describeValue(null), 'an empty value')
  assert.equal(describeValue([]), 'an empty list')
  assert.equal(describeValue({}), 'a mapping')
  assert.equal(describeValue(1.5), '1.5')
  assert.equal(describeValue('y'.repeat(100)), `"${'y'.repeat(60)}…"`)
})

test('absurdly deep paths are shortened', () => {
  const deep = ['listeners', ...Array<string>(40).fill('a'), 0]
  assert.equal(formatPath(deep), `listeners${'.a'.repeat(11)}…a.a.a[0]`)
})
