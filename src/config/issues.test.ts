// Schema errors, as the user sees them: exact file:line:col, key path and message.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatProblem, parseConfigText } from './load.ts'

function errors(yaml: string): string[] {
  const result = parseConfigText(yaml, 'f.yaml')
  assert.equal(result.ok, false, 'expected problems')
  return result.ok ? [] : result.problems.map(formatProblem)
}

const LISTENER = 'listeners: [{ name: web, protocol: http, listen: 8080 }]\n'

test('an unknown key points at the key, suggests the closest and lists the allowed ones', () => {
  const yaml = `listeners:
  - name: web
    protocol: http
    listen: 8080
    routes:
      - forwrd: api
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:6:9 listeners[0].routes[0].forwrd: unknown key "forwrd"; did you mean "forward"? (expected one of: match, forward, redirect, respond, proxy, addHeaders, access, allow, deny, maxBodyBytes, limits, rateLimit, accessLog)',
  ])
})

test('a wrong type says what was expected and what was found', () => {
  const yaml = `${LISTENER}targetGroups:
  api:
    connections: x
    retries: { tries: "3" }
    passive:
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:4:18 targetGroups.api.connections: expected a number, found "x"',
    'f.yaml:5:23 targetGroups.api.retries.tries: expected a number, found "3"; write 3 without quotes',
    'f.yaml:6:5 targetGroups.api.passive: expected a mapping, found an empty value',
  ])
})

test('a missing required key points at the map that lacks it', () => {
  assert.deepEqual(errors('workers: 1\nlisteners:\n  - protocol: http\n    listen: 8080\n'), [
    'f.yaml:3:5 listeners[0]: missing required key "name"',
  ])
  assert.deepEqual(errors('# nothing but\nworkers: 1\n'), ['f.yaml:2:1: missing required key "listeners"'])
})

test('bad durations, enums and ranges are explained in plain words', () => {
  const yaml = `${LISTENER}drainTimeout: 5 seconds
targetGroups:
  api:
    algorithm: roundrobin
    timeouts: { connect: -5, idle: true }
    retries: { on: [eror] }
    targets: [{ address: "127.0.0.1:1", weight: 0 }]
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:2:15 drainTimeout: expected a duration such as "500ms", "5s", "1m" or "1h", found "5 seconds"',
    'f.yaml:5:16 targetGroups.api.algorithm: expected one of: round-robin, least-conn, least-time, random, p2c, ip-hash, hash; found "roundrobin"; did you mean "round-robin"?',
    'f.yaml:6:26 targetGroups.api.timeouts.connect: expected a number of at least 0, found -5',
    'f.yaml:6:36 targetGroups.api.timeouts.idle: expected a duration such as "500ms", "5s", "1m" or "1h", found true',
    'f.yaml:7:21 targetGroups.api.retries.on[0]: expected one of: error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429; found "eror"; did you mean "error"?',
    'f.yaml:8:49 targetGroups.api.targets[0].weight: expected a number of at least 1, found 0',
  ])
})

test('a union reports the branch that was meant, not every branch', () => {
  const yaml = `${LISTENER}targetGroups:
  api:
    targets:
      - 5
      - { address: "127.0.0.1:1", wieght: 2 }
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:5:9 targetGroups.api.targets[0]: expected "host:port" or a mapping with address (and optional weight, maxConns, backup), found 5',
    'f.yaml:6:35 targetGroups.api.targets[1].wieght: unknown key "wieght"; did you mean "weight"? (expected one of: address, weight, maxConns, backup)',
  ])
  assert.deepEqual(errors(`workers: 1.5\n${LISTENER}`), ['f.yaml:1:10 workers: expected a whole number or "auto", found 1.5'])
})

test('literal choices, prefixes and record names say how to fix them', () => {
  const yaml = `listeners:
  - name: web
    protocol: http
    listen: 8080
    routes:
      - match: { path: api/ }
        redirect: { location: /new, status: 200 }
targetGroups:
  "bad name": {}
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:6:24 listeners[0].routes[0].match.path: expected text starting with "/", found "api/"; write "/api/"',
    'f.yaml:7:45 listeners[0].routes[0].redirect.status: expected 301, 302, 303, 307 or 308, found 200',
    'f.yaml:9:3 targetGroups["bad name"]: invalid name "bad name": use only letters, digits, "_", "." and "-"',
  ])
  // The protocol says which kind of listener this is, so an unknown one is reported alone, with the choices.
  assert.deepEqual(errors('listeners:\n  - { name: web, protocol: htps, listen: 8080 }\n'), [
    'f.yaml:2:28 listeners[0].protocol: expected one of: http, https, tcp, udp, tls-passthrough; found "htps"; did you mean "https"?',
  ])
  assert.deepEqual(errors('listeners:\n  - { name: web, listen: 8080 }\n'), [
    'f.yaml:2:5 listeners[0]: missing required key "protocol" (one of: http, https, tcp, udp, tls-passthrough)',
  ])
  // Unknown keys list what this kind of listener takes.
  assert.deepEqual(errors('listeners:\n  - { name: edge, protocol: tcp, listen: 9000, forward: app, routes: [] }\ntargetGroups: { app: {} }\n'), [
    'f.yaml:2:62 listeners[0].routes: unknown key "routes" (expected one of: protocol, name, listen, proxyProtocol, acceptProxyProtocol, idleTimeout, prereadTimeout, access, allow, deny, connectionLimits, accessLog, forward)',
  ])
})

test('every problem in the file is reported at once, in file order', () => {
  const yaml = `workers: two
listeners:
  - name: web
    protocol: http
    listen: [8080]
    extra: 1
targetGroups:
  api: { hashKey: "header x", connections: 0 }
`
  assert.deepEqual(errors(yaml), [
    'f.yaml:1:10 workers: expected a number or "auto", found "two"',
    'f.yaml:5:13 listeners[0].listen: expected a number or a string, found a list',
    'f.yaml:6:5 listeners[0].extra: unknown key "extra" (expected one of: name, protocol, listen, tls, http2, hsts, routes, virtualHosts, access, allow, deny, maxBodyBytes, rateLimit, connectionLimits, trustedProxies, replaceForwardedFor, errorPages, limits, forwardedHeaders, requestId, accessLog, acceptProxyProtocol)',
    'f.yaml:8:19 targetGroups.api.hashKey: expected header:NAME, cookie:NAME, path or client-ip, found "header x"',
    'f.yaml:8:44 targetGroups.api.connections: expected a number of at least 1, found 0',
  ])
})

test('a file that is not a mapping, or has no listeners, says so', () => {
  assert.deepEqual(errors('- a\n- b\n'), ['f.yaml:1:1: expected a mapping, found a list'])
  assert.deepEqual(errors('listeners: []\n'), ['f.yaml:1:12 listeners: expected a list with at least 1 item, found an empty list'])
  assert.deepEqual(errors(''), ['f.yaml: the file is empty; expected a mapping with at least "listeners"'])
})
