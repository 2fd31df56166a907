// Checks of the protection settings, through the loader so positions are checked too.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatProblem, parseConfigText } from './load.ts'
import { httpListeners } from './schema.ts'

function problems(yaml: string): string[] {
  const result = parseConfigText(yaml, 'f.yaml')
  return result.ok ? [] : result.problems.map(formatProblem)
}

const GROUPS = 'targetGroups:\n  app: { targets: [127.0.0.1:8081] }\n'

test('sizes take units (1024s, as nginx) and say what they expect', () => {
  const result = parseConfigText(`listeners:
  - name: web
    protocol: http
    listen: 8080
    limits: { maxHeaderBytes: 32KiB, maxUriBytes: 4k, maxBodyBytes: 1.5m }
    routes: [{ forward: app, maxBodyBytes: "2MiB" }]
${GROUPS}`, 'f.yaml')
  assert.ok(result.ok, result.ok ? '' : result.problems.map(formatProblem).join('\n'))
  const [web] = httpListeners(result.config)
  assert.deepEqual([web.limits.maxHeaderBytes, web.limits.maxUriBytes, web.limits.maxBodyBytes, web.routes[0].maxBodyBytes], [32768, 4096, 1572864, 2097152])
  assert.deepEqual(problems(`listeners:
  - { name: web, protocol: http, listen: 8080, limits: { maxHeaderBytes: 16 parsecs }, routes: [{ forward: app }] }
${GROUPS}`), ['f.yaml:2:74 listeners[0].limits.maxHeaderBytes: expected a number of bytes, or a size such as "16KiB", "10MiB", "8k" or "1m" (k, m and g count 1024s, as nginx), found "16 parsecs"'])
})

test('allow/deny lists are addresses or CIDRs, and a level has them or access, not both', () => {
  assert.deepEqual(problems(`listeners:
  - name: web
    protocol: http
    listen: 8080
    allow: [10.0.0.0/8, 10.0.0.0/33, banana]
    access: [{ deny: all }]
    routes: [{ forward: app }]
${GROUPS}`), [
    'f.yaml:5:5 listeners[0].allow: a level has either access (ordered rules, as nginx) or allow/deny lists, not both; move the lists into access, or drop access',
    'f.yaml:5:25 listeners[0].allow[1]: "10.0.0.0/33": the prefix length must be 0 to 32',
    'f.yaml:5:38 listeners[0].allow[2]: "banana" is not an address, a CIDR (10.0.0.0/8, 2001:db8::/32) or all',
  ])
})

test('rate limits: a rate above 0, and one rate per shared zone; trusted proxies are CIDRs', () => {
  assert.deepEqual(problems(`listeners:
  - name: web
    protocol: http
    listen: 8080
    rateLimit: { rate: 0r/s }
    trustedProxies: [10.0.0.0/8, nope]
    routes:
      - { forward: app, rateLimit: { rate: 5r/s, zone: shared } }
      - { forward: app, rateLimit: [{ rate: 10r/s, zone: shared }] }
${GROUPS}`), [
    'f.yaml:5:24 listeners[0].rateLimit.rate: a rate must be above 0; to refuse every request, use deny: [all]',
  ])
  assert.deepEqual(problems(`listeners:
  - name: web
    protocol: http
    listen: 8080
    trustedProxies: [10.0.0.0/8, nope]
    routes:
      - { forward: app, rateLimit: { rate: 5r/s, zone: shared } }
      - { forward: app, rateLimit: [{ rate: 10r/s, zone: shared }] }
${GROUPS}`), [
    'f.yaml:5:34 listeners[0].trustedProxies[1]: "nope" is not an address, a CIDR (10.0.0.0/8, 2001:db8::/32) or all',
    'f.yaml:8:58 listeners[0].routes[1].rateLimit[0].zone: zone "shared" is also used at listeners.0.routes.0.rateLimit with another rate or maxKeys; a zone has one rate and size',
  ])
})
