import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Router, requestHost, requestPath } from './match.ts'

const req = (url: string, host?: string, method = 'GET', headers: Record<string, string> = {}) =>
  ({ method, url, headers: host === undefined ? headers : { host, ...headers } })

test('requestHost lower-cases and strips the port, IPv6 included', () => {
  assert.equal(requestHost({ host: 'API.Example.com:8080' }), 'api.example.com')
  assert.equal(requestHost({ host: '[::1]:8080' }), '[::1]')
  assert.equal(requestHost({}), '')
  assert.equal(requestPath('/a/b?x=1'), '/a/b')
})

test('first match wins, in order', () => {
  const r = new Router([
    { match: { path: '/api/' }, value: 'api' },
    { match: { path: '/api/v2/' }, value: 'never' },
    { match: {}, value: 'default' },
  ])
  assert.equal(r.match(req('/api/v2/x')), 'api')
  assert.equal(r.match(req('/other')), 'default')
})

test('host: exact, *.suffix (at least one label) and prefix.*', () => {
  const r = new Router([
    { match: { host: 'example.com' }, value: 'exact' },
    { match: { host: '*.example.com' }, value: 'wild' },
    { match: { host: 'www.example.*' }, value: 'prefix' },
  ])
  assert.equal(r.match(req('/', 'EXAMPLE.com')), 'exact')
  assert.equal(r.match(req('/', 'a.b.example.com')), 'wild')
  assert.equal(r.match(req('/', 'www.example.org')), 'prefix')
  assert.equal(r.match(req('/', 'notexample.com')), undefined)
  assert.equal(r.match(req('/')), undefined)
})

test('path, pathExact, pathRegex, method and headers all must hold', () => {
  const r = new Router([
    { match: { pathExact: '/ping', method: ['GET', 'head'] }, value: 'ping' },
    { match: { pathRegex: '^/u/[0-9]+$' }, value: 'user' },
    { match: { path: '/x', headers: { 'X-Env': 'beta', 'x-any': '*' } }, value: 'beta' },
  ])
  assert.equal(r.match(req('/ping')), 'ping')
  assert.equal(r.match(req('/ping', undefined, 'HEAD')), 'ping')
  assert.equal(r.match(req('/ping', undefined, 'POST')), undefined)
  assert.equal(r.match(req('/ping/')), undefined)
  assert.equal(r.match(req('/u/42?x')), 'user')
  assert.equal(r.match(req('/u/x')), undefined)
  assert.equal(r.match(req('/x', undefined, 'GET', { 'x-env': 'beta', 'x-any': 'v' })), 'beta')
  assert.equal(r.match(req('/x', undefined, 'GET', { 'x-env': 'beta' })), undefined)
  assert.equal(r.match(req('/x', undefined, 'GET', { 'x-env': 'prod', 'x-any': 'v' })), undefined)
})

test('no routes: nothing matches', () => {
  assert.equal(new Router([]).match(req('/')), undefined)
})
