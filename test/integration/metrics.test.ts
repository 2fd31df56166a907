/**
 * GET /metrics on the admin API after a scripted run of requests: exact counts per label set, histogram
 * buckets filled, in-flight and connections back to 0; health checks, reloads and the config hash; the
 * admin token; then the same with two data-plane workers, whose metrics the primary aggregates.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { startAdminServer } from '../../src/admin/server.ts'
import { formatProblem, loadConfig } from '../../src/config/load.ts'
import { ControlPlane } from '../../src/control/control-plane.ts'
import { InProcessDataPlane, type DataPlane } from '../../src/control/data-plane.ts'
import { WorkerDataPlane } from '../../src/control/worker-data-plane.ts'
import { ActiveHealthChecker } from '../../src/health/active.ts'
import { silentLogger } from '../../src/log.ts'
import { ControlMetrics } from '../../src/observe/control-metrics.ts'
import type { ObserveOptions } from '../../src/observe/data-plane-observer.ts'
import { FileStateStore } from '../../src/state/file-store.ts'
import { Backend } from '../helpers/backend.ts'
import { until } from '../helpers/process.ts'

const TOKEN = 'metrics-test-token'

interface Observed {
  readonly cp: ControlPlane
  readonly dir: string
  readonly file: string
  url(listener?: string): Promise<string>
  /** GET /metrics parsed: `name{labels}` exactly as printed -> value. */
  scrape(): Promise<Map<string, number>>
  admin: string
}

/** Starts the control plane with metrics (as `fulcrum start` does), its admin API, and the given data plane. */
async function startObserved(t: TestContext, yaml: string, dataPlane: (log: ReturnType<typeof silentLogger>, o: ObserveOptions) => DataPlane = (log, o) => new InProcessDataPlane(log, o)): Promise<Observed> {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-metrics-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'fulcrum.yaml')
  writeFileSync(file, yaml)
  const loaded = await loadConfig(file)
  if (!loaded.ok) throw new Error(loaded.problems.map(formatProblem).join('\n'))
  const log = silentLogger()
  const cp = new ControlPlane({
    configFile: file, config: loaded.config, log,
    dataPlane: dataPlane(log, { metrics: true, configDir: dir }),
    store: new FileStateStore(loaded.config.dataDir),
    checker: (onResult) => new ActiveHealthChecker(onResult),
    observer: new ControlMetrics(),
  })
  await cp.start()
  t.after(() => cp.stop(500))
  const server = await startAdminServer(cp, loaded.config.admin, log)
  t.after(() => server.close())
  const admin = `http://127.0.0.1:${server.port}`
  return {
    cp, dir, file, admin,
    url: async (listener?: string) => {
      const ports = await cp.dataPlane.ports()
      return `http://127.0.0.1:${listener === undefined ? Object.values(ports)[0] : ports[listener]}`
    },
    scrape: async () => {
      const res = await request(`${admin}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
      return parseMetrics(await res.body.text())
    },
  }
}

function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

const ADMIN = `admin: { listen: "127.0.0.1:0", token: ${TOKEN} }\n`

test('a scripted run gives exact counts, filled histograms, and gauges back at 0', async (t) => {
  const ok = await new Backend((req, res) => {
    req.resume()
    if (req.url === '/app/hang') return
    res.end('ok')
  }).start()
  const failing = await new Backend((req, res) => { req.resume(); res.statusCode = 502; res.end('bad gateway') }).start()
  t.after(() => Promise.all([ok.close(), failing.close()]))
  const lb = await startObserved(t, `${ADMIN}listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:0
    routes:
      - match: { path: /ping }
        respond: { status: 200, body: pong }
      - match: { path: /app/ }
        forward: app
targetGroups:
  app:
    targets: [${ok.address}, ${failing.address}]
    retries: { tries: 2, on: [error, http_502] }
`)
  const base = await lb.url()
  const agent = new Agent()
  t.after(() => agent.destroy())
  const get = async (path: string, options: { method?: 'GET' | 'POST'; body?: string } = {}): Promise<number> => {
    const res = await request(`${base}${path}`, { dispatcher: agent, ...options })
    await res.body.dump()
    return res.statusCode
  }
  for (let i = 0; i < 10; i++) assert.equal(await get('/app/x'), 200)
  assert.equal(await get('/app/post', { method: 'POST', body: 'hello' }), 200)
  for (let i = 0; i < 3; i++) assert.equal(await get('/ping'), 200)
  for (let i = 0; i < 2; i++) assert.equal(await get('/nowhere'), 404)
  // A client that gives up while the target is still working: 499.
  const hanging = request(`${base}/app/hang`, { dispatcher: agent, signal: AbortSignal.timeout(10_000) })
  await until(() => ok.received.some((r) => r.url === '/app/hang'), 5_000, 'the hanging request to reach its target')
  const during = await lb.scrape()
  assert.equal(during.get('fulcrum_http_requests_in_flight{listener="web"}'), 1)
  assert.ok((during.get('fulcrum_listener_connections{listener="web"}') ?? 0) >= 1)
  await agent.destroy()
  await hanging.catch(() => {})

  await until(async () => (await lb.scrape()).get('fulcrum_listener_connections{listener="web"}') === 0, 5_000, 'connections to close')
  const m = await lb.scrape()
  const requests = (route: string, group: string, target: string, cls: string): number | undefined =>
    m.get(`fulcrum_http_requests_total{listener="web",route="${route}",target_group="${group}",target="${target}",status_class="${cls}"}`)
  // Every proxied request ends at the good target: the failing one's 502s are retried there.
  assert.equal(requests('1', 'app', ok.address, '2xx'), 11)
  assert.equal(requests('1', 'app', ok.address, '4xx'), 1, 'the 499')
  assert.equal(requests('1', 'app', failing.address, '5xx'), undefined)
  assert.equal(requests('0', '', '', '2xx'), 3)
  assert.equal(requests('none', '', '', '4xx'), 2)
  assert.equal(m.get('fulcrum_http_requests_in_flight{listener="web"}'), 0)
  assert.equal(m.get('fulcrum_http_request_body_bytes_total{listener="web"}'), 5)
  assert.equal(m.get('fulcrum_http_response_body_bytes_total{listener="web"}'), 11 * 2 + 3 * 4 + 2 * '404 Not Found\n'.length)
  assert.ok(failing.count >= 1, 'the failing target was tried')
  assert.equal(m.get('fulcrum_upstream_retries_total{target_group="app",reason="http_502"}'), failing.count)
  assert.equal(m.get(`fulcrum_passive_failures_total{target_group="app",target="${failing.address}"}`), failing.count)

  const duration = (le: string): number | undefined => m.get(`fulcrum_http_request_duration_seconds_bucket{listener="web",target_group="app",le="${le}"}`)
  assert.equal(duration('+Inf'), 12)
  assert.equal(m.get('fulcrum_http_request_duration_seconds_count{listener="web",target_group="app"}'), 12)
  assert.ok((duration('60') ?? 0) === 12 && (duration('0.001') ?? 0) <= (duration('0.1') ?? 0), 'cumulative buckets')
  assert.equal(m.get('fulcrum_http_request_duration_seconds_count{listener="web",target_group=""}'), 5)
  // The abort never got an answer, so only 11 upstream times, all from the good target.
  assert.equal(m.get(`fulcrum_upstream_response_duration_seconds_count{target_group="app",target="${ok.address}"}`), 11)
  assert.equal(m.get(`fulcrum_upstream_response_duration_seconds_bucket{target_group="app",target="${ok.address}",le="+Inf"}`), 11)
  assert.equal(m.get(`fulcrum_upstream_response_duration_seconds_count{target_group="app",target="${failing.address}"}`), undefined)
})

test('health checks, target states, reloads and the config hash; the admin token guards /metrics', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const yaml = (extra: string): string => `${ADMIN}listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:0
    routes: [ { forward: app } ]
targetGroups:
  app:
    targets: [${backend.address}]
    healthCheck: { path: /health, interval: 100ms, timeout: 50ms, healthyThreshold: 2 }${extra}
`
  const lb = await startObserved(t, yaml(''))
  assert.equal((await request(`${lb.admin}/metrics`)).statusCode, 401)
  const check = (result: string): string => `fulcrum_health_checks_total{target_group="app",target="${backend.address}",result="${result}"}`
  const state = (s: string): string => `fulcrum_target_state{target_group="app",target="${backend.address}",state="${s}"}`
  await until(async () => (await lb.scrape()).get(state('healthy')) === 1, 5_000, 'the target to turn healthy')
  let m = await lb.scrape()
  assert.ok((m.get(check('pass')) ?? 0) >= 2)
  assert.equal(m.get(check('fail')), undefined)
  assert.equal(m.get(state('initial')), 0)
  assert.equal(m.get(state('unhealthy')), 0)
  const checks = m.get(`fulcrum_health_check_duration_seconds_count{target_group="app",target="${backend.address}"}`) ?? 0
  assert.ok(checks >= (m.get(check('pass')) ?? 0), 'every check is timed')
  assert.deepEqual([m.get('fulcrum_config_reloads_total{result="success"}'), m.get('fulcrum_config_reloads_total{result="failure"}')], [0, 0])
  const hashes = (x: Map<string, number>): string[] => [...x.keys()].filter((k) => k.startsWith('fulcrum_config_info{'))
  const [first] = hashes(m)
  assert.match(first, /^fulcrum_config_info\{hash="[0-9a-f]{12}"\}$/)
  assert.equal(m.get(first), 1)

  writeFileSync(lb.file, yaml('\n    retries: { tries: 1 }'))
  assert.equal((await lb.cp.reload()).ok, true)
  writeFileSync(lb.file, 'listeners: [')
  assert.equal((await lb.cp.reload()).ok, false)
  m = await lb.scrape()
  assert.deepEqual([m.get('fulcrum_config_reloads_total{result="success"}'), m.get('fulcrum_config_reloads_total{result="failure"}')], [1, 1])
  const after = hashes(m)
  assert.equal(after.length, 1, 'one hash at a time')
  assert.notEqual(after[0], first, 'the new configuration has a new hash')
})

test('two workers: the primary aggregates their counters and histograms exactly', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  let plane: WorkerDataPlane | undefined
  const lb = await startObserved(t, `admin: { listen: "127.0.0.1:0", token: ${TOKEN} }
workers: 2
listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:0
    routes: [ { forward: app } ]
targetGroups:
  app:
    targets: [${backend.address}]
`, (log, observe) => (plane = new WorkerDataPlane({ workers: 2, log, observe })))
  const url = await lb.url()
  const total = 200
  // A new connection per request, so that the kernel spreads them over both workers' sockets.
  for (let i = 0; i < total; i += 20) {
    await Promise.all(Array.from({ length: 20 }, async () => {
      const res = await request(url, { reset: true })
      await res.body.dump()
      assert.equal(res.statusCode, 200)
    }))
  }
  const series = `{listener="web",route="0",target_group="app",target="${backend.address}",status_class="2xx"}`
  // Each worker counts a request when its response closes, a moment after the client has it.
  await until(async () => (await lb.scrape()).get(`fulcrum_http_requests_total${series}`) === total, 5_000, `${total} requests counted`)
  const m = await lb.scrape()
  assert.equal(m.get('fulcrum_http_request_duration_seconds_count{listener="web",target_group="app"}'), total)
  assert.equal(m.get('fulcrum_http_request_duration_seconds_bucket{listener="web",target_group="app",le="+Inf"}'), total)
  assert.equal(m.get(`fulcrum_upstream_response_duration_seconds_count{target_group="app",target="${backend.address}"}`), total)
  assert.equal(m.get('fulcrum_http_response_body_bytes_total{listener="web"}'), total * `Response from ${backend.port}`.length)
  assert.equal(m.get('fulcrum_http_requests_in_flight{listener="web"}'), 0)
  // Primary-only metrics appear once, not once per worker.
  assert.equal(m.get(`fulcrum_target_state{target_group="app",target="${backend.address}",state="healthy"}`), 1)

  const perWorker = await (plane as WorkerDataPlane).metrics()
  assert.equal(perWorker.length, 2)
  const counts = perWorker.map((w) => w.find((x) => x.name === 'fulcrum_http_requests_total')?.values.reduce((s, v) => s + v.value, 0) ?? 0)
  assert.equal(counts[0] + counts[1], total)
  assert.ok(counts.every((n) => n > 0), `both workers served requests: ${counts.join(' + ')}`)
})
