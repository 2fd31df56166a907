/**
 * The admin API in-process (control plane + startAdminServer on port 0, real backends and health checks):
 * the status document, registration up to traffic, deregistration that drains (and one whose delay runs
 * out), the token, every error answer, reload, and registrations that survive a restart.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startAdminServer } from '../../src/admin/server.ts'
import type { ControlPlane } from '../../src/control/control-plane.ts'
import { silentLogger } from '../../src/log.ts'
import { Backend, type Handler } from '../helpers/backend.ts'
import { parse, simpleConfig } from '../helpers/balancer.ts'
import { startControlPlane, type RunningControlPlane } from '../helpers/control-plane.ts'
import { startLoad } from '../helpers/load.ts'
import { until } from '../helpers/process.ts'

interface Answer { status: number; headers: Record<string, unknown>; body: any }

async function startAdmin(t: TestContext, yaml: string, dir?: string) {
  const running = await startControlPlane(t, yaml, dir)
  const server = await startAdminServer(running.cp, running.cp.config.admin, silentLogger())
  t.after(() => server.close())
  const base = `http://127.0.0.1:${server.port}`
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
    const res = await request(`${base}${path}`, { method: method as 'GET', body: text, headers: { 'content-type': 'application/json', ...headers } })
    const raw = await res.body.text()
    return { status: res.statusCode, headers: res.headers, body: raw === '' ? undefined : JSON.parse(raw) }
  }
  return { ...running, server, api }
}

/** Answers /health with 200 and every other path with its port; `hold` requests wait for release(). */
function backend(hold?: Promise<void>): Backend {
  const handler: Handler = async (req, res, b) => {
    req.resume()
    if (req.url === '/slow' && hold !== undefined) await hold
    res.end(req.url === '/health' ? 'ok' : `Response from ${b.port}`)
  }
  return new Backend(handler)
}

const traffic = (b: Backend): number => b.received.filter((r) => r.url !== '/health').length
const get = async (url: string) => { const r = await request(url); return { status: r.statusCode, body: await r.body.text() } }

function yaml(targets: string[], group = '', admin = 'admin: { listen: "127.0.0.1:0" }'): string {
  return `${admin}
listeners:
  - { name: web, protocol: http, listen: "127.0.0.1:0", routes: [{ forward: app }] }
targetGroups:
  app:
    targets: [${targets.join(', ')}]
    healthCheck: { path: /health, interval: 100ms, timeout: 80ms, healthyThreshold: 2, unhealthyThreshold: 2 }
${group}  spare:
    targets: []
`
}

async function stateOf(api: (m: string, p: string) => Promise<Answer>, group: string, address: string): Promise<string | undefined> {
  const { body } = await api('GET', `/api/v1/target-groups/${group}`)
  return body.targets.find((x: { address: string }) => x.address === address)?.state
}

async function started(t: TestContext, ...backends: Backend[]): Promise<void> {
  await Promise.all(backends.map((b) => b.start()))
  t.after(() => Promise.all(backends.map((b) => b.close())))
}

test('GET /api/v1/status: listeners, groups, targets with state, weight, in-flight and last check', async (t) => {
  const a = backend()
  await started(t, a)
  const { api, cp, url } = await startAdmin(t, yaml([a.address]))
  await until(async () => (await stateOf(api, 'app', a.address)) === 'healthy', 5_000, 'a to turn healthy')
  const { status, headers, body } = await api('GET', '/api/v1/status')
  assert.equal(status, 200)
  assert.match(String(headers['content-type']), /^application\/json/)
  assert.equal(body.pid, process.pid)
  assert.equal(body.configFile, cp.configFile)
  assert.equal(typeof body.version, 'string')
  assert.equal(typeof body.uptimeSeconds, 'number')
  assert.deepEqual(body.listeners, [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', port: Number(new URL(await url()).port) }])
  assert.deepEqual(body.targetGroups.map((g: { name: string }) => g.name), ['app', 'spare'])
  const app = body.targetGroups[0]
  assert.equal(app.algorithm, 'round-robin')
  assert.equal(app.used, true)
  assert.equal(app.healthCheck.interval, 100)
  assert.equal(app.failOpen, true)
  assert.equal(app.deregistrationDelayMs, 30_000)
  const [target] = app.targets
  assert.deepEqual(Object.keys(target).sort(), ['address', 'drainingUntil', 'inFlight', 'lastCheck', 'reason', 'since', 'source', 'state', 'weight'])
  assert.equal(target.address, a.address)
  assert.equal(target.state, 'healthy')
  assert.equal(target.source, 'file')
  assert.equal(target.inFlight, 0)
  assert.ok(!Number.isNaN(Date.parse(target.since)))
  assert.equal(target.lastCheck.ok, true)
  assert.equal(target.lastCheck.detail, 'status 200')
  assert.ok(!Number.isNaN(Date.parse(target.lastCheck.at)))
  assert.equal(body.targetGroups[1].used, false)
  assert.ok(body.transitions.some((x: { address: string; to: string }) => x.address === a.address && x.to === 'healthy'))
  const one = await api('GET', '/api/v1/target-groups/app')
  assert.deepEqual(one.body.targets.map((x: { address: string }) => x.address), [a.address])
})

test('register: 201, initial, healthy after the checks, then traffic within one check interval', async (t) => {
  const a = backend()
  const b = backend()
  await started(t, a, b)
  const { api, url } = await startAdmin(t, yaml([a.address]))
  await until(async () => (await stateOf(api, 'app', a.address)) === 'healthy', 5_000, 'a to turn healthy')
  const load = startLoad(`${await url()}/`, { concurrency: 2, maxMs: 10_000 })
  t.after(() => load.stop())
  // When b's checks arrived and when its first proxied request did.
  const checkTimes: number[] = []
  let firstTraffic = 0
  const inner = b.handler
  b.handler = (req, res, self) => {
    if (req.url === '/health') checkTimes.push(Date.now())
    else if (firstTraffic === 0) firstTraffic = Date.now()
    inner(req, res, self)
  }

  const reg = await api('POST', '/api/v1/target-groups/app/targets', { address: b.address, weight: 2 })
  assert.equal(reg.status, 201, JSON.stringify(reg.body))
  assert.equal(reg.body.target.address, b.address)
  assert.equal(reg.body.target.weight, 2)
  assert.equal(reg.body.target.source, 'api')
  assert.equal(reg.body.target.state, 'initial')
  await until(async () => (await stateOf(api, 'app', b.address)) === 'healthy', 5_000, 'b to turn healthy')
  await until(() => traffic(b) > 0, 5_000, 'b to get traffic')
  const result = await load.stop()
  assert.equal(result.failed, 0, JSON.stringify(result.failures))
  const { transitions } = (await api('GET', '/api/v1/status')).body as { transitions: Array<{ address: string; to: string; at: string }> }
  const healthyAt = Date.parse(transitions.find((x) => x.address === b.address && x.to === 'healthy')?.at ?? '')
  assert.ok(firstTraffic >= healthyAt, 'no traffic while initial')
  // Counted in checks, not milliseconds: the first request came before the check after next (the next
  // check may race it), so within one interval of turning healthy.
  const between = checkTimes.filter((x) => x > healthyAt && x <= firstTraffic).length
  assert.ok(between <= 1, `${between} checks reached b between turning healthy and its first request`)
})

/** Sends /slow until one lands on `target` (the other answers at once); returns that request, still pending. */
async function holdOn(base: string, target: Backend, other: Backend): Promise<{ response: Promise<{ status: number; body: string }> }> {
  for (;;) {
    const before = [traffic(target), traffic(other)]
    const response = get(`${base}/slow`)
    await until(() => traffic(target) > before[0] || traffic(other) > before[1], 5_000, 'the request to reach a backend')
    if (traffic(target) > before[0]) return { response }
    await response
  }
}

async function drainingSetup(t: TestContext, delay: string) {
  let release: () => void = () => {}
  const hold = new Promise<void>((r) => { release = r })
  t.after(() => release())
  const a = backend()
  const b = backend(hold)
  await started(t, a, b)
  const admin = await startAdmin(t, yaml([a.address, b.address], `    deregistrationDelay: ${delay}\n`))
  const healthy = async (x: Backend) => (await stateOf(admin.api, 'app', x.address)) === 'healthy'
  await until(async () => (await healthy(a)) && (await healthy(b)), 5_000, 'both targets to turn healthy')
  const base = await admin.url()
  const { response } = await holdOn(base, b, a)
  return { ...admin, a, b, base, response, release }
}

test('deregister with a long request in flight: draining, no new request reaches it, it completes, removal before the delay', async (t) => {
  const { api, a, b, base, response, release } = await drainingSetup(t, '2s')
  const path = `/api/v1/target-groups/app/targets/${encodeURIComponent(b.address)}`
  const started = Date.now()
  const del = await api('DELETE', path)
  const answered = Date.now()
  assert.equal(del.status, 202, JSON.stringify(del.body))
  assert.equal(del.body.target, b.address)
  assert.equal(del.body.state, 'draining')
  const drainingUntil = Date.parse(del.body.drainingUntil)
  assert.ok(drainingUntil >= started + 2_000 && drainingUntil <= answered + 2_000, `drainingUntil ${del.body.drainingUntil} is the delay (2s) after the call`)
  const seen = (await api('GET', '/api/v1/target-groups/app')).body.targets.find((x: { address: string }) => x.address === b.address)
  assert.equal(seen.state, 'draining')
  assert.equal(seen.inFlight, 1)
  assert.equal(seen.drainingUntil, del.body.drainingUntil)

  const waited = api('DELETE', `${path}?wait=true`)
  const held = traffic(b)
  for (let i = 0; i < 20; i++) assert.deepEqual(await get(`${base}/`), { status: 200, body: `Response from ${a.port}` })
  assert.equal(traffic(b), held, 'no new request reached the draining target')
  release()
  assert.deepEqual(await response, { status: 200, body: `Response from ${b.port}` })
  const outcome = await waited
  assert.deepEqual([outcome.status, outcome.body.outcome], [200, 'drained'])
  assert.equal(await stateOf(api, 'app', b.address), undefined, 'removed once drained')
  assert.ok(Date.now() < drainingUntil, 'removed before the delay ran out')
})

test('deregister whose request outlasts the delay: removal at the delay, the request still completes', async (t) => {
  const { api, b, response, release } = await drainingSetup(t, '300ms')
  const started = Date.now()
  const out = await api('DELETE', `/api/v1/target-groups/app/targets/${encodeURIComponent(b.address)}?wait=true`)
  assert.deepEqual([out.status, out.body.outcome], [200, 'delay-expired'])
  assert.ok(Date.now() - started >= 290, 'not before the delay')
  assert.equal(await stateOf(api, 'app', b.address), undefined, 'removed at the delay')
  release()
  assert.deepEqual(await response, { status: 200, body: `Response from ${b.port}` })
})

test('with admin.token every call needs Authorization: Bearer <token>', async (t) => {
  const { api } = await startAdmin(t, yaml([], '', 'admin: { listen: "127.0.0.1:0", token: s3cret }'))
  for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: 'Bearer s3cre' }, { authorization: 's3cret' }]) {
    const r = await api('GET', '/api/v1/status', undefined, headers)
    assert.equal(r.status, 401, JSON.stringify(headers))
    assert.equal(r.body.error.code, 'unauthorized')
    assert.match(String(r.headers['www-authenticate']), /^Bearer/)
  }
  assert.equal((await api('POST', '/api/v1/reload', undefined, {})).status, 401)
  assert.equal((await api('GET', '/api/v1/status', undefined, { authorization: 'Bearer s3cret' })).status, 200)
})

test('errors are JSON with the right status', async (t) => {
  const { api } = await startAdmin(t, yaml([]))
  const cases: Array<[string, string, unknown, number, string]> = [
    ['GET', '/api/v1/target-groups/nope', undefined, 404, 'group_not_found'],
    ['POST', '/api/v1/target-groups/nope/targets', { address: '127.0.0.1:1' }, 404, 'group_not_found'],
    ['POST', '/api/v1/target-groups/spare/targets', '{"address": ', 400, 'invalid_json'],
    ['POST', '/api/v1/target-groups/spare/targets', { weight: 1 }, 400, 'missing_address'],
    ['POST', '/api/v1/target-groups/spare/targets', [1], 400, 'invalid_request'],
    ['POST', '/api/v1/target-groups/spare/targets', { address: '10.0.0.7' }, 400, 'invalid_address'],
    ['POST', '/api/v1/target-groups/spare/targets', { address: '127.0.0.1:1', weight: 0 }, 400, 'invalid_weight'],
    ['POST', '/api/v1/target-groups/spare/targets', { address: '127.0.0.1:1', weight: '2' }, 400, 'invalid_weight'],
    ['POST', '/api/v1/target-groups/spare/targets', JSON.stringify({ address: 'x'.repeat(70_000) }), 413, 'body_too_large'],
    ['DELETE', '/api/v1/target-groups/spare/targets/127.0.0.1%3A9', undefined, 404, 'target_not_found'],
    ['DELETE', '/api/v1/target-groups/spare/targets/%E0%A4%A', undefined, 400, 'invalid_path'],
    ['GET', '/api/v1/nothing', undefined, 404, 'not_found'],
    ['GET', '/nothing', undefined, 404, 'not_found'],
  ]
  for (const [method, path, body, status, code] of cases) {
    const r = await api(method, path, body)
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`)
    assert.equal(r.body.error.code, code, `${method} ${path}`)
    assert.equal(typeof r.body.error.message, 'string')
  }
  const wrong = await api('PUT', '/api/v1/status')
  assert.equal(wrong.status, 405)
  assert.equal(wrong.headers.allow, 'GET')
  assert.equal(wrong.body.error.code, 'method_not_allowed')
})

test('an IPv6 address is URL-encoded in the DELETE path', async (t) => {
  const { api } = await startAdmin(t, yaml([]))
  assert.equal((await api('POST', '/api/v1/target-groups/spare/targets', { address: '[::1]:8081' })).status, 201)
  const del = await api('DELETE', `/api/v1/target-groups/spare/targets/${encodeURIComponent('[::1]:8081')}?wait=true`)
  assert.deepEqual([del.status, del.body.outcome], [200, 'drained'])
  assert.deepEqual((await api('GET', '/api/v1/target-groups/spare')).body.targets, [])
})

test('POST /api/v1/reload: a broken file answers 422 with its problems and the old configuration keeps serving', async (t) => {
  const a = backend()
  const b = backend()
  await started(t, a, b)
  const { api, url, write } = await startAdmin(t, yaml([a.address]))
  write('listeners: [ { name: web\n')
  const bad = await api('POST', '/api/v1/reload')
  assert.equal(bad.status, 422)
  assert.equal(bad.body.error.code, 'invalid_config')
  assert.ok(Array.isArray(bad.body.error.problems) && bad.body.error.problems.length > 0, JSON.stringify(bad.body))
  assert.match(bad.body.error.problems[0], /fulcrum\.yaml/)
  assert.deepEqual(await get(`${await url()}/`), { status: 200, body: `Response from ${a.port}` })
  write(yaml([a.address, b.address]))
  const good = await api('POST', '/api/v1/reload')
  assert.equal(good.status, 200, JSON.stringify(good.body))
  assert.equal(good.body.reloaded, true)
  assert.deepEqual(good.body.summary.targetsAdded, [`app/${b.address}`])
})

test('registrations survive a restart; a deregistered file target stays out', async (t) => {
  const a = backend()
  const b = backend()
  const c = backend()
  await started(t, a, b, c)
  const text = yaml([a.address, b.address])
  const first = await startAdmin(t, text)
  assert.equal((await first.api('POST', '/api/v1/target-groups/app/targets', { address: c.address, weight: 3 })).status, 201)
  const del = await first.api('DELETE', `/api/v1/target-groups/app/targets/${encodeURIComponent(b.address)}?wait=true`)
  assert.equal(del.status, 200)
  await first.server.close()
  await first.cp.stop(500)

  const second = await startAdmin(t, text, first.dir)
  const targets = (await second.api('GET', '/api/v1/target-groups/app')).body.targets
  assert.deepEqual(targets.map((x: { address: string; weight: number; source: string }) => [x.address, x.weight, x.source]),
    [[a.address, 1, 'file'], [c.address, 3, 'api']])
})

test('an unexpected error answers 500 JSON and the server keeps serving; disabled and unsafe setups', async (t) => {
  const config = parse(simpleConfig([]))
  // A stand-in control plane whose target records cannot be read.
  const cp = {
    config, configFile: 'fulcrum.yaml', transitions: [],
    records: () => { throw new Error('boom') },
    dataPlane: { ports: async () => ({}), inFlight: async () => ({}) },
  } as unknown as ControlPlane
  const server = await startAdminServer(cp, { listen: '127.0.0.1:0', enabled: true }, silentLogger())
  t.after(() => server.close())
  const base = `http://127.0.0.1:${server.port}`
  const broken = await request(`${base}/api/v1/status`)
  assert.equal(broken.statusCode, 500)
  assert.deepEqual(await broken.body.json(), { error: { code: 'internal_error', message: 'unexpected error: boom' } })
  const after = await request(`${base}/api/v1/target-groups/nope`)
  assert.equal(after.statusCode, 404)
  await after.body.dump()

  const off = await startAdminServer(cp, { listen: '127.0.0.1:0', enabled: false }, silentLogger())
  assert.equal(off.port, 0)
  await off.close()
  await assert.rejects(startAdminServer(cp, { listen: '0.0.0.0:0', enabled: true }, silentLogger()), /needs admin\.token/)
})
