/**
 * `fulcrum explain` through the real CLI: the README's routes (host, path, redirect, respond, weighted)
 * with no balancer running (every target assumed healthy, and said so), then against a running
 * `fulcrum start`, whose target states decide the pick.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Backend } from '../helpers/backend.ts'
import { freePort, runFulcrum, spawnFulcrum, tempDir, until, waitForHttp } from '../helpers/process.ts'

function readmeRoutes(adminPort: number, api: string[]): string {
  return `admin: { listen: "127.0.0.1:${adminPort}" }
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
    targets: [${api.join(', ')}]
    healthCheck: { path: /health, interval: 100ms, timeout: 80ms, healthyThreshold: 1, unhealthyThreshold: 1 }
  web-blue:
    algorithm: hash
    hashKey: header:x-user-id
    targets: [127.0.0.1:8083, 127.0.0.1:8084]
  web-green:
    targets: [127.0.0.1:8085]
`
}

test('explain the README routes without a running balancer: reasons, the route, the group, the target', async (t) => {
  const adminPort = await freePort()
  const file = tempDir(t).write('fulcrum.yaml', readmeRoutes(adminPort, ['127.0.0.1:8081', '{ address: 127.0.0.1:8082, weight: 3 }']))

  const api = await runFulcrum(t, ['explain', '-c', file, 'GET http://api.example.com:8080/api/users?id=7'])
  assert.equal(api.code, 0, api.stderr)
  assert.equal(api.stdout, `GET http://api.example.com:8080/api/users?id=7
  Host api.example.com:8080, path /api/users?id=7, client 127.0.0.1

listener web (8080): by the URL's port 8080
  route 0 taken: host api.example.com matches api.example.com; path /api/ is a prefix of /api/users
    host api.example.com, path /api/ -> forward api
=> forward to target group api

target group api (round-robin): 127.0.0.1:8082
  healthy targets take requests
  127.0.0.1:8081  healthy    weight 1, 0 in flight  eligible
  127.0.0.1:8082  healthy    weight 3, 0 in flight  picked
  round-robin: shown is the first turn of a fresh rotation; the running balancer is somewhere in its rotation, so each eligible target comes in proportion to its weight

target states: assumed: every target healthy with nothing in flight (cannot reach the admin API at http://127.0.0.1:${adminPort}: connection refused)
`)

  const weighted = await runFulcrum(t, ['explain', '-c', file, 'GET https://api.example.com/v1/users', '--header', 'X-User-Id: 42', '--json'])
  assert.equal(weighted.code, 0, weighted.stderr)
  const e = JSON.parse(weighted.stdout)
  assert.equal(e.listener.chosenBy, "the only listener (the URL's port 443 is not its port 8080)")
  assert.deepEqual(e.routes.map((r: { reasons: string[] }) => r.reasons.join('; ')), [
    'path /api/ is not a prefix of /v1/users',
    'path /old/ is not a prefix of /v1/users',
    'path /ping is not a prefix of /v1/users',
    'no conditions: matches every request',
  ])
  assert.deepEqual(e.route, { label: 'route 3', description: 'any request -> forward web-blue 90, web-green 10' })
  assert.deepEqual(e.groups.map((g: { name: string; share: number }) => [g.name, g.share]), [['web-blue', 0.9], ['web-green', 0.1]])
  assert.match(e.target, /^127\.0\.0\.1:808[34]$/)
  assert.equal(e.groups[0].note, 'hash of header:x-user-id: a request with the same key always goes to this target while it is eligible')
  assert.equal(e.states.source, 'assumed')
  // The same key, the same target.
  const again = JSON.parse((await runFulcrum(t, ['explain', '-c', file, 'GET https://api.example.com/v1/users', '--header', 'x-user-id:42', '--json'])).stdout)
  assert.equal(again.target, e.target)

  const redirect = await runFulcrum(t, ['explain', '-c', file, 'http://www.example.com/old/page'])
  assert.match(redirect.stdout, /^ {2}route 0 passed over: host www\.example\.com does not match api\.example\.com; path \/api\/ is not a prefix of \/old\/page$/m)
  assert.match(redirect.stdout, /^ {2}route 1 taken: path \/old\/ is a prefix of \/old\/page$/m)
  assert.match(redirect.stdout, /^=> redirect 301 to https:\/\/example\.com\/new\/$/m)
  assert.doesNotMatch(redirect.stdout, /target/)

  const ping = await runFulcrum(t, ['explain', '-c', file, 'GET http://www.example.com/ping'])
  assert.match(ping.stdout, /^=> respond 200 \(4 bytes\)$/m)

  const bad = await runFulcrum(t, ['explain', '-c', file, 'GET /relative'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /^fulcrum: "\/relative" is not an http:\/\/ or https:\/\/ URL/)
  const usage = await runFulcrum(t, ['explain', '-c', file])
  assert.equal(usage.code, 2)
  assert.match(usage.stderr, /explain needs a request/)
})

test('explain against a running balancer: its target states decide the pick', async (t) => {
  const healthy = await new Backend((req, res) => { req.resume(); res.end('ok') }).start()
  t.after(() => healthy.close())
  const dead = `127.0.0.1:${await freePort()}`
  const adminPort = await freePort()
  // The dead target is the heavier: a fresh round robin would start with it, were it not unhealthy.
  const file = tempDir(t).write('fulcrum.yaml', readmeRoutes(adminPort, [healthy.address, `{ address: "${dead}", weight: 5 }`]).replace('listen: 8080', `listen: 127.0.0.1:${await freePort()}`))
  const lb = spawnFulcrum(t, ['start', '-c', file])
  await waitForHttp(`http://127.0.0.1:${adminPort}/api/v1/status`, 5_000, lb)

  const ask = () => runFulcrum(t, ['explain', '-c', file, 'GET http://api.example.com/api/x', '--json'])
  await until(async () => JSON.parse((await ask()).stdout).groups[0].targets[1].state === 'unhealthy', 5_000, 'the dead target to turn unhealthy')
  const e = JSON.parse((await ask()).stdout)
  assert.equal(e.target, healthy.address)
  assert.deepEqual(e.groups[0].targets.map((x: { address: string; state: string; reason: string }) => [x.address, x.state, x.reason]), [
    [healthy.address, 'healthy', ''],
    [dead, 'unhealthy', 'unhealthy: healthy targets take requests'],
  ])
  assert.equal(e.states.source, 'admin-api')

  const text = await runFulcrum(t, ['explain', '-c', file, 'GET http://api.example.com/api/x'])
  assert.match(text.stdout, new RegExp(`^  ${dead}\\s+unhealthy\\s+weight 5, 0 in flight  skipped: unhealthy: healthy targets take requests$`, 'm'))
  assert.match(text.stdout, new RegExp(`^target states: from the running balancer at http://127\\.0\\.0\\.1:${adminPort} \\(pid ${lb.pid}\\)$`, 'm'))
})
