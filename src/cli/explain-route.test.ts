import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { RouteConfig } from '../config/schema.ts'
import { explainRoutes } from './explain-route.ts'

const forward = (match: RouteConfig['match']): RouteConfig => ({ match, forward: 'app' }) as RouteConfig

test('every failed condition of every route passed over, in the router\'s order; the held ones of the route taken', () => {
  const routes = [
    forward({ host: '*.example.com', pathRegex: '^/v[0-9]+/' }),
    forward({ host: 'www.example.*', headers: { 'x-env': 'prod', 'x-debug': '*' } }),
    forward({ method: ['GET', 'HEAD'], headers: { 'x-env': 'staging' } }),
  ]
  const e = explainRoutes(routes, { method: 'GET', url: '/users?id=1', headers: { host: 'example.com:8080', 'x-env': 'staging' } })
  assert.equal(e.taken, 2)
  assert.deepEqual(e.verdicts.map((v) => [v.index, v.matched, v.reasons]), [
    [0, false, ['host example.com does not match *.example.com', 'path /users does not match /^\\/v[0-9]+\\//']],
    [1, false, ['host example.com does not match www.example.*', 'header x-env is "staging", not "prod"', 'header x-debug is missing']],
    [2, true, ['method GET is GET or HEAD', 'header x-env is "staging"']],
  ])
  assert.equal(e.verdicts[0].description, 'host *.example.com, path ~ ^/v[0-9]+/ -> forward app')
})

test('no Host header, and no route taken', () => {
  const e = explainRoutes([forward({ host: 'api.example.com' })], { method: 'GET', url: '/', headers: {} })
  assert.equal(e.taken, undefined)
  assert.deepEqual(e.verdicts[0].reasons, ['the request has no Host header; the route wants host api.example.com'])
})
