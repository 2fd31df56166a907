// YAML-level problems: syntax, duplicate keys, aliases. Reported with positions before any schema check.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatProblem, parseConfigText } from './load.ts'
import { objectSource, readYaml } from './source.ts'

const LISTENER = 'listeners: [{ name: web, protocol: http, listen: 8080 }]\n'

function errors(yaml: string): string[] {
  const result = parseConfigText(yaml, 'f.yaml')
  assert.equal(result.ok, false, 'expected problems')
  return result.ok ? [] : result.problems.map(formatProblem)
}

test('duplicate keys are errors that point at the repeat and name the first', () => {
  const yaml = 'workers: 1\nlisteners:\n  - name: web\n    protocol: http\n    name: api\n    listen: 8080\nworkers: 1\n'
  assert.deepEqual(errors(yaml), [
    'f.yaml:5:5 listeners[0].name: duplicate key "name" (first set on line 3); each key may appear once in a mapping',
    'f.yaml:7:1 workers: duplicate key "workers" (first set on line 1); each key may appear once in a mapping',
  ])
  assert.deepEqual(errors('{"listeners": [],\n "listeners": 1}'), [
    'f.yaml:2:2 listeners: duplicate key "listeners" (first set on line 1); each key may appear once in a mapping',
  ])
})

test('YAML syntax errors carry their line and column', () => {
  assert.deepEqual(errors('workers: 1\nlisteners: a: b\n'), [
    'f.yaml:2:12 listeners.a: YAML syntax: Nested mappings are not allowed in compact mappings',
  ])
  assert.deepEqual(errors(`${LISTENER}\tworkers: 1\n`), ['f.yaml:2:1: YAML syntax: Tabs are not allowed as indentation'])
  assert.deepEqual(errors(`dataDir: "unterminated\n${LISTENER}`), ['f.yaml:3:1: YAML syntax: Missing closing "quote'])
})

test('several documents, unknown aliases and collection keys are reported', () => {
  assert.deepEqual(errors(`${LISTENER}---\n${LISTENER}`), [
    'f.yaml:2:1: the file holds more than one YAML document (a second "---"); write one configuration per file',
  ])
  assert.deepEqual(errors(`${LISTENER}dataDir: *nope\n`), ['f.yaml:2:10 dataDir: unknown alias *nope; define &nope before using it'])
  assert.deepEqual(errors(`${LISTENER}? [a]\n: 1\n`), ['f.yaml:2:3: a key must be a plain name, not a list or mapping'])
})

test('nesting past the parser limit is one problem, not a cascade', () => {
  for (const text of ['['.repeat(5_000), '- '.repeat(5_000) + 'x']) {
    const found = errors(text)
    assert.equal(found.length, 1)
    assert.match(found[0], /^f\.yaml:1:\d+: the file is nested too deeply to read$/)
  }
})

test('aliases work, but an alias bomb is refused', () => {
  const ok = parseConfigText(`x-port: &port 8080\nlisteners: [{ name: web, protocol: http, listen: *port }]\n`, 'f.yaml')
  assert.equal(ok.ok, false) // "x-port" is not a config key, but the alias itself resolved
  assert.deepEqual(ok.ok ? [] : ok.problems.map(formatProblem), [
    'f.yaml:1:1 x-port: unknown key "x-port" (expected one of: workers, admin, dataDir, drainTimeout, maxConnections, listeners, targetGroups)',
  ])
  let bomb = `${LISTENER}x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n`
  for (let i = 1; i < 9; i++) bomb += `x${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]\n`
  assert.deepEqual(errors(bomb), ['f.yaml: the file expands aliases (*name) too many times to read safely; write the values out instead'])
})

test('"__proto__" is an ordinary (unknown) key, not a prototype', () => {
  assert.deepEqual(errors(`__proto__: { workers: 2 }\n${LISTENER}`), [
    'f.yaml:1:1 __proto__: unknown key "__proto__" (expected one of: workers, admin, dataDir, drainTimeout, maxConnections, listeners, targetGroups)',
  ])
})

test('locate finds keys, values, and the nearest existing parent', () => {
  const read = readYaml('a:\n  b: [x, { c: 1 }]\n  empty:\n', 'f.yaml')
  assert.ok(read.ok)
  const { source } = read
  assert.deepEqual(source.locate(['a', 'b', 1, 'c']), { path: ['a', 'b', 1, 'c'], line: 2, column: 15 })
  assert.deepEqual(source.locate(['a', 'b', 1, 'c'], 'key'), { path: ['a', 'b', 1, 'c'], line: 2, column: 12 })
  assert.deepEqual(source.locate(['a', 'b', 0, 'address']), { path: ['a', 'b', 0], line: 2, column: 7 })
  assert.deepEqual(source.locate(['a', 'missing']), { path: ['a'], line: 2, column: 3 })
  assert.deepEqual(source.locate(['a', 'empty']), { path: ['a', 'empty'], line: 3, column: 3 })
  assert.deepEqual(objectSource({ a: [{ b: 1 }] }, 'f.ts').locate(['a', 0, 'x']), { path: ['a', 0] })
})
