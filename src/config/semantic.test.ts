// Cross-field checks, through the loader so positions are checked too.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatProblem, parseConfigText } from './load.ts'
import { checkConfig } from './semantic.ts'
import { configSchema } from './schema.ts'

function errors(yaml: string): string[] {
  const result = parseConfigText(yaml, 'f.yaml')
  assert.equal(result.ok, false, 'expected problems')
  return result.ok ? [] : result.problems.map(formatProblem)
}

function warnings(yaml: string): string[] {
  const result = parseConfigText(yaml, 'f.yaml')
  if (!result.ok) assert.fail(result.problems.map(formatProblem).join('\n'))
  return result.warnings
}

test('a route forwarding to a group that does not exist suggests the closest', () => {
  const yaml = `listeners:
  - name: web
    protocol: http
    listen: 8080
    routes:
      - forward: apii
      - forward: { api: 0, web-blu: 0 }
targetGroups:
  api: { targets: [127.0.0.1:8081] }
  web-blue: { targets: [127.0.0.1:8082] }
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:6:18 listeners[0].routes[0].forward: target group "apii" does not exist; did you mean "api"? (defined: api, web-blue)',
    'f.yaml:7:18 listeners[0].routes[1].forward: every forward weight is 0, so no request could be sent; give at least one group a weight above 0',
    'f.yaml:7:28 listeners[0].routes[1].forward.web-blu: target group "web-blu" does not exist; did you mean "web-blue"? (defined: api, web-blue)',
  ])
})

test('a route needs exactly one action', () => {
  const yaml = `listeners:
  - name: web
    protocol: http
    listen: 8080
    routes:
      - match: { path: /x }
      - forward: api
        respond: { body: hi }
targetGroups: { api: { targets: [127.0.0.1:8081] } }
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:6:9 listeners[0].routes[0]: a route needs exactly one of forward, redirect, respond; found none',
    'f.yaml:7:9 listeners[0].routes[1]: a route needs exactly one of forward, redirect, respond; found forward and respond',
  ])
})

test('listener names and ports must not collide, the admin API included', () => {
  const yaml = `admin: { listen: 9090 }
listeners:
  - { name: web, protocol: http, listen: 8080 }
  - { name: web, protocol: http, listen: "127.0.0.1:8080" }
  - { name: a, protocol: http, listen: "127.0.0.1:8081" }
  - { name: b, protocol: http, listen: "127.0.0.2:8081" }
  - { name: c, protocol: http, listen: "[::1]:8081" }
  - { name: d, protocol: http, listen: "[::1]:8081" }
  - { name: e, protocol: http, listen: "*:9090" }
  - { name: f, protocol: http, listen: "127.0.0.1:0" }
  - { name: g, protocol: http, listen: "127.0.0.1:0" }
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:1:18 admin.listen: the admin API on *:9090 is reachable from other machines, so it needs admin.token (every call then sends "Authorization: Bearer <token>"); add a token, or listen on 127.0.0.1',
    'f.yaml:4:13 listeners[1].name: listener name "web" is already used by listeners[0] (line 3); names must be unique',
    'f.yaml:4:42 listeners[1].listen: port 8080 is already used by listener web (line 3); *:8080 takes the port on every address',
    'f.yaml:8:40 listeners[5].listen: port 8081 is already used by listener c (line 7)',
    'f.yaml:9:40 listeners[6].listen: port 9090 is already used by the admin API (line 1)',
  ])
})

test('a listener on the default admin port is reported against the default', () => {
  assert.deepEqual(errors('listeners: [{ name: web, protocol: http, listen: "127.0.0.1:9090" }]\n'), [
    'f.yaml:1:50 listeners[0].listen: port 9090 is already used by the admin API (admin.listen defaults to 127.0.0.1:9090)',
  ])
})

test('listen and target addresses must parse; the fix is in the message', () => {
  const yaml = `listeners:
  - { name: a, protocol: http, listen: "::1:80" }
  - { name: b, protocol: http, listen: localhost }
  - { name: c, protocol: http, listen: "http://localhost:80/" }
  - { name: d, protocol: http, listen: "web:99999" }
  - { name: e, protocol: http, listen: 8080, routes: [{ forward: api }] }
targetGroups:
  api:
    targets:
      - 127.0.0.1:8081
      - "[::1]:8081"
      - 10.0.0.7
      - { address: "127.0.0.1:8081" }
      - "::1"
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:2:40 listeners[0].listen: IPv6 addresses need brackets; write "[::1]:80"',
    'f.yaml:3:40 listeners[1].listen: "localhost" has no port; write "localhost:8080"',
    'f.yaml:4:40 listeners[2].listen: "http://localhost:80/" is a URL; write only host:port, e.g. "localhost:80"',
    'f.yaml:5:40 listeners[3].listen: port 99999 is out of range; use a port from 1 to 65535',
    'f.yaml:12:9 targetGroups.api.targets[2]: "10.0.0.7" has no port; write "10.0.0.7:8080"',
    'f.yaml:13:20 targetGroups.api.targets[3].address: target 127.0.0.1:8081 is listed twice in this group (first at targets[0], line 10); list each target once and use weight for a larger share',
    'f.yaml:14:9 targetGroups.api.targets[4]: "::1" has no port; write "[::1]:8080"',
  ])
})

test('hash needs hashKey, pathRegex must compile; several workers are fine', () => {
  const yaml = `workers: 4
listeners:
  - name: web
    protocol: http
    listen: 8080
    routes:
      - match: { pathRegex: "^/(a|b" }
        forward: api
targetGroups:
  api: { algorithm: hash, targets: [127.0.0.1:8081] }
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:7:29 listeners[0].routes[0].match.pathRegex: the regular expression does not compile: Invalid regular expression: /^/(a|b/: Unterminated group',
    'f.yaml:10:21 targetGroups.api.algorithm: algorithm hash needs a hashKey (header:NAME, cookie:NAME, path or client-ip); add e.g. hashKey: header:x-user-id',
  ])
})

test('unused groups, empty groups and a stray hashKey are warnings, not errors', () => {
  const yaml = `listeners: [{ name: web, protocol: http, listen: 8080, routes: [{ forward: api }] }]
targetGroups:
  api: { hashKey: path, targets: [127.0.0.1:8081] }
  spare: {}
`
  assert.deepEqual(warnings(yaml), [
    'f.yaml:3:19 targetGroups.api.hashKey: hashKey is ignored with algorithm round-robin; only algorithm hash uses it',
    'f.yaml:4:3 targetGroups.spare: target group "spare" is not used by any route',
    'f.yaml:4:10 targetGroups.spare.targets: the group has no targets, so requests forwarded to it will get 503',
  ])
})

test('checkConfig works on a parsed config without a file', () => {
  const config = configSchema.parse({
    listeners: [{ name: 'web', protocol: 'http', listen: 8080, routes: [{ forward: 'nope' }] }],
  })
  assert.deepEqual(checkConfig(config), {
    problems: [{ path: ['listeners', 0, 'routes', 0, 'forward'], at: 'value', message: 'target group "nope" does not exist; no targetGroups are defined' }],
    warnings: [],
  })
})

test('an admin API off loopback needs a token; on loopback it does not', () => {
  const base = 'listeners: [{ name: web, protocol: http, listen: 8080 }]\n'
  assert.deepEqual(errors(`admin: { listen: "0.0.0.0:9090" }\n${base}`), [
    'f.yaml:1:18 admin.listen: the admin API on 0.0.0.0:9090 is reachable from other machines, so it needs admin.token (every call then sends "Authorization: Bearer <token>"); add a token, or listen on 127.0.0.1',
  ])
  assert.equal(parseConfigText(`admin: { listen: "0.0.0.0:9090", token: s3cret }\n${base}`, 'f.yaml').ok, true)
  assert.equal(parseConfigText(`admin: { listen: "[::1]:9090" }\n${base}`, 'f.yaml').ok, true)
})

test('a health check must end before the next is due', () => {
  const yaml = `listeners: [{ name: web, protocol: http, listen: 8080, routes: [{ forward: api }] }]
targetGroups:
  api: { targets: [127.0.0.1:8081], healthCheck: { interval: 5s, timeout: 5s } }
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:3:75 targetGroups.api.healthCheck.timeout: found 5s; the timeout must be above 0 and shorter than the interval (5s)',
  ])
})

test('an access log template with an unknown variable is refused with its name', () => {
  const yaml = `listeners:
  - { name: web, protocol: http, listen: 8080, accessLog: { format: "$remote_addr $bogus" } }
`
  const [problem] = errors(yaml)
  assert.match(problem, /^f\.yaml:2:\d+ listeners\[0\]\.accessLog\.format: unknown variable \$bogus/)
})
