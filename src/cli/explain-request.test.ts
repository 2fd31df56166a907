import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfigText } from '../config/load.ts'
import type { Config } from '../config/schema.ts'
import { explainRequest, parseRequest, type Explanation, type ExplainRequest, type Live } from './explain-request.ts'
import type { TargetView } from './status.ts'

/** The routes of the README's configuration example. */
const README = `
listeners:
  - name: web
    protocol: http
    listen: 8080
    routes:
      - match: { host: api.example.com, path: /api/ }
        forward: api
      - match: { path: /old/ }
        redirect: { location: "https://example.com/new/", status: 301 }
      - match: { path: /ping }
        respond: { status: 200, body: "pong" }
      - forward: { web-blue: 90, web-green: 10 }
targetGroups:
  api:
    targets: [127.0.0.1:8081, { address: 127.0.0.1:8082, weight: 3, maxConns: 2 }]
  web-blue:
    algorithm: ip-hash
    targets: [127.0.0.1:8083, 127.0.0.1:8084]
  web-green:
    targets: [127.0.0.1:8085, { address: 127.0.0.1:8086, backup: true }]
`

function config(text = README): Config {
  const loaded = parseConfigText(text, '/etc/fulcrum/fulcrum.yaml')
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems))
  return loaded.config
}

function request(line: string, headers: string[] = [], client?: string): ExplainRequest {
  const r = parseRequest(line, headers, client)
  assert.ok(!('error' in r), JSON.stringify(r))
  return r
}

function explain(line: string, live?: Live, headers: string[] = []): Explanation {
  const e = explainRequest(config(), request(line, headers), live)
  assert.ok(!('error' in e), JSON.stringify(e))
  return e
}

const reasons = (e: Explanation): string[] => e.routes.map((v) => `route ${v.index}: ${v.reasons.join('; ')}`)

test('parseRequest: method and URL, the path as typed, the port from the URL, headers and client', () => {
  const r = request('post http://api.example.com:8080/a/../b?x=1#frag', ['X-User-Id: 42', 'cookie: a=1', 'Cookie: b=2'], '10.0.0.1')
  assert.deepEqual(r, {
    method: 'POST', url: 'http://api.example.com:8080/a/../b?x=1#frag', target: '/a/../b?x=1', port: 8080,
    headers: { host: 'api.example.com:8080', 'x-user-id': '42', cookie: ['a=1', 'b=2'] }, clientIp: '10.0.0.1',
  })
  assert.equal(request('https://example.com').target, '/')
  assert.equal(request('https://example.com').port, 443)
  assert.equal(request('GET https://example.com?q HTTP/1.1').target, '/?q')
  assert.equal(request('GET http://example.com/', ['Host: other.example.com']).headers.host, 'other.example.com')
  assert.match((parseRequest('GET /v1/users') as { error: string }).error, /not an http:\/\/ or https:\/\/ URL/)
  assert.match((parseRequest('GET http://x/', ['nocolon']) as { error: string }).error, /--header needs NAME:VALUE/)
  assert.match((parseRequest('GET http://x/', [], 'nope') as { error: string }).error, /--client needs an IP address/)
})

test('host and path: the API route, with the reason for nothing passed over', () => {
  const e = explain('GET http://api.example.com:8080/api/users')
  assert.deepEqual(e.listener, { name: 'web', listen: '8080', port: 8080, chosenBy: "by the URL's port 8080" })
  assert.deepEqual(reasons(e), ['route 0: host api.example.com matches api.example.com; path /api/ is a prefix of /api/users'])
  assert.equal(e.route?.label, 'route 0')
  assert.equal(e.outcome, 'forward to target group api')
  assert.equal(e.groups[0].name, 'api')
  // Smooth weighted round robin starts with the heaviest target.
  assert.equal(e.target, '127.0.0.1:8082')
})

test('the weighted route: every route passed over says why; the heavier group and its ip-hash target', () => {
  const e = explain('GET https://api.example.com/v1/users')
  assert.equal(e.listener.chosenBy, "the only listener (the URL's port 443 is not its port 8080)")
  assert.deepEqual(reasons(e), [
    'route 0: path /api/ is not a prefix of /v1/users',
    'route 1: path /old/ is not a prefix of /v1/users',
    'route 2: path /ping is not a prefix of /v1/users',
    'route 3: no conditions: matches every request',
  ])
  assert.equal(e.route?.description, 'any request -> forward web-blue 90, web-green 10')
  assert.equal(e.outcome, 'forward by weight: web-blue 90%, web-green 10% (smooth weighted round robin)')
  assert.deepEqual(e.groups.map((g) => [g.name, g.share, g.target]), [['web-blue', 0.9, e.target], ['web-green', 0.1, '127.0.0.1:8085']])
  assert.match(e.groups[0].note, /^ip-hash: the client address 127\.0\.0\.1 always goes to this target/)
  const green = e.groups[1].targets
  assert.deepEqual(green.map((t) => [t.address, t.eligible, t.reason]), [
    ['127.0.0.1:8085', true, ''], ['127.0.0.1:8086', false, 'backup: takes requests only when no primary can'],
  ])
  // The same client always lands on the same target; another client may not.
  assert.equal(explain('GET https://api.example.com/v1/users').target, e.target)
})

test('redirect and respond: no target group, and the host mismatch is a reason', () => {
  const redirect = explain('GET http://www.example.com/old/page')
  assert.deepEqual(reasons(redirect), [
    'route 0: host www.example.com does not match api.example.com; path /api/ is not a prefix of /old/page',
    'route 1: path /old/ is a prefix of /old/page',
  ])
  assert.equal(redirect.outcome, 'redirect 301 to https://example.com/new/')
  assert.deepEqual([redirect.groups, redirect.target], [[], null])
  const respond = explain('GET http://www.example.com/ping')
  assert.equal(respond.route?.label, 'route 2')
  assert.equal(respond.outcome, 'respond 200 (4 bytes)')
})

test('live states: unhealthy, draining and full targets are skipped with their reason; the file-only target is left out', () => {
  const view = (address: string, state: string, inFlight = 0, weight = 1): TargetView =>
    ({ address, weight, source: 'file', state, reason: '', inFlight, drainingUntil: null, lastCheck: null })
  const live: Live = {
    listeners: [{ name: 'web', protocol: 'http', listen: '8080', port: 8080 }],
    targetGroups: [
      { name: 'api', used: true, healthCheck: null, targets: [view('127.0.0.1:8081', 'unhealthy'), view('127.0.0.1:8082', 'healthy', 2, 3), view('127.0.0.1:8090', 'healthy', 0, 5)] },
      { name: 'web-blue', used: true, healthCheck: null, targets: [view('127.0.0.1:8083', 'draining'), view('127.0.0.1:8084', 'unhealthy')] },
      { name: 'web-green', used: true, healthCheck: null, targets: [view('127.0.0.1:8085', 'unhealthy'), view('127.0.0.1:8086', 'initial')] },
    ],
  }
  const api = explain('GET http://api.example.com/api/x', live)
  assert.deepEqual(api.groups[0].targets.map((t) => [t.address, t.state, t.eligible, t.reason]), [
    ['127.0.0.1:8081', 'unhealthy', false, 'unhealthy: healthy targets take requests'],
    ['127.0.0.1:8082', 'healthy', false, 'at maxConns: 2 in flight, maxConns 2'],
    // Registered through the API: the running balancer has it, the file does not.
    ['127.0.0.1:8090', 'healthy', true, ''],
  ])
  assert.equal(api.target, '127.0.0.1:8090')

  const web = explain('GET http://www.example.com/', live)
  const [blue, green] = web.groups
  assert.equal(blue.mode, 'every target is unhealthy and failOpen is on: unhealthy targets take requests')
  assert.deepEqual(blue.targets.map((t) => t.reason), ['draining: deregistered, takes no new requests', ''])
  assert.equal(blue.target, '127.0.0.1:8084')
  // One mode for the group, backups included: an initial backup serves before an unhealthy primary (fail open
  // is for when every target is unhealthy).
  assert.deepEqual([green.target, green.mode], ['127.0.0.1:8086', 'no target is healthy yet: targets awaiting their first verdict (initial) take requests'])
  assert.equal(green.targets[0].reason, 'unhealthy: no target is healthy yet: targets awaiting their first verdict (initial) take requests')

  const gone = explain('GET http://api.example.com/api/x', { ...live, targetGroups: [{ ...live.targetGroups[0], targets: live.targetGroups[0].targets.slice(1) }] })
  assert.ok(gone.notes.includes('api 127.0.0.1:8081 is in the file but not in the running balancer (deregistered, or added since the last reload): left out'), gone.notes.join('\n'))
  assert.ok(gone.notes.some((n) => n.startsWith('target group web-blue is not in the running balancer')))
})

test('no route, several listeners, and a port no listener has', () => {
  const two = config(`${README.replace('targetGroups:', `  - name: admin
    protocol: http
    listen: 127.0.0.1:8443
    routes: [{ match: { pathExact: /status, method: [GET, HEAD], headers: { x-admin: "*" } }, respond: { body: ok } }]
targetGroups:`)}`)
  const e = explainRequest(two, request('POST http://x:8443/status/'), undefined) as Explanation
  assert.equal(e.listener.name, 'admin')
  assert.deepEqual(reasons(e), ['route 0: method POST is not GET or HEAD; path /status/ is not exactly /status; header x-admin is missing'])
  assert.deepEqual([e.route, e.outcome], [null, 'no route matches: the listener answers 404'])
  const none = explainRequest(two, request('GET https://x/'), undefined)
  assert.deepEqual(none, { error: 'no listener on port 443 (listeners: web on 8080, admin on 8443); put the port in the URL, e.g. http://host:8080/' })
})
