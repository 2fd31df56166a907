import { test } from 'node:test'
import assert from 'node:assert/strict'
import { escapeUri, normalizeUri, replacePrefix, targetArgs, targetPath } from './uri.ts'

// Each pair was captured from nginx 1.22.1 (`return 200 "$uri"`); undefined = nginx answered 400.
const NGINX: ReadonlyArray<readonly [string, string | undefined]> = [
  ['/a/b/../c', '/a/c'],
  ['/a/./b', '/a/b'],
  ['/a//b///c', '/a/b/c'],
  ['/a/b/..', '/a/'],
  ['/a/b/.', '/a/b/'],
  ['/a/.', '/a/'],
  ['/..', undefined],
  ['/../a', undefined],
  ['/a/../..', undefined],
  ['/a/%2e%2e/b', '/b'],
  ['/a%2Fb', '/a/b'],
  ['/a%2F..%2Fb', '/b'],
  ['/%41%42', '/AB'],
  ['/a%zzb', undefined],
  ['/a%2', undefined],
  ['/a%', undefined],
  ['/%3F?x=1', '/?'],
  ['/a b', undefined],
  ['/a%20b?q=%20', '/a b'],
  ['/a/...', '/a/...'],
  ['/a/..b', '/a/..b'],
  ['/a/.b', '/a/.b'],
  ['/a#frag', '/a'],
  ['/a/%2e/b', '/a/b'],
  ['/a%00b', undefined],
  ['/a?', '/a'],
  ['/a?b=1&c=2', '/a'],
  ['/%25%32%66', '/%2f'],
  ['/.%2e/x', undefined],
  ['//a', '/a'],
  ['/a/b/%2E%2E/c', '/a/c'],
  ['/a\\b', '/a\\b'],
  ['/%5c..%5cb', '/\\..\\b'],
  ['/a/./../../b', undefined],
]

test('normalizeUri matches nginx $uri on every captured case', () => {
  for (const [target, uri] of NGINX) assert.equal(normalizeUri(target), uri, target)
})

test('a plain path comes back as the same string (no copy)', () => {
  const url = '/api/v1/users'
  assert.equal(normalizeUri(url), url)
  assert.equal(normalizeUri('/'), '/')
  assert.equal(normalizeUri('/x?y'), '/x')
})

test('absolute-form targets are cut to their path; other forms are refused', () => {
  assert.equal(targetPath('http://example.com/a/b?q'), '/a/b?q')
  assert.equal(normalizeUri('http://example.com'), '/')
  assert.equal(normalizeUri('http://example.com/a/../b'), '/b')
  assert.equal(normalizeUri('*'), undefined)
})

test('targetArgs is nginx $args', () => {
  assert.equal(targetArgs('/a?b=1&c'), 'b=1&c')
  assert.equal(targetArgs('/a'), '')
  assert.equal(targetArgs('/a?'), '')
})

test('escapeUri escapes what nginx escapes in a URI (space, #, %, ?, controls, non-ASCII), not "/"', () => {
  assert.equal(escapeUri('/a b/c/d'), '/a%20b/c/d')
  assert.equal(escapeUri('/x#?%'), '/x%23%3F%25')
  assert.equal(escapeUri('/caf\u00e9'), '/caf%E9')
  assert.equal(escapeUri('/plain'), '/plain')
})

test('replacePrefix: nginx proxy_pass with a URI part', () => {
  // Checked against nginx 1.22.1: location /api/ { proxy_pass http://backend/v1/; }
  assert.equal(replacePrefix('/api/a%20b/c%2Fd?q=1', undefined, '/api/', '/v1/'), '/v1/a%20b/c/d?q=1')
  assert.equal(replacePrefix('/api/x?', undefined, '/api/', '/v1/'), '/v1/x')
  assert.equal(replacePrefix('/api/', undefined, '/api/', '/'), '/')
  assert.equal(replacePrefix('/api/a/../b', undefined, '/api/', '/v1/'), '/v1/b', 'resolved, nothing escaped to redo')
  assert.equal(replacePrefix('/other', undefined, '/api/', '/v1/'), '/other', 'without the prefix: as sent')
  assert.equal(replacePrefix('/exact?x', '/exact', '/exact', '/e'), '/e?x')
})
