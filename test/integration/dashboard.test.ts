/**
 * The live dashboard: the event stream (status on connect and on change, series every second, ?token=,
 * no sampling once the last client leaves), a target's timeline and reloads, and the page itself in
 * headless Chromium (playwright-core with Debian's /usr/bin/chromium): no console errors, every target
 * with its state, a target going down and a drain clicked in the page within two seconds, screenshots at
 * laptop and phone width in test-artifacts/.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { chromium, type Browser, type Page } from 'playwright-core'
import { setSeriesSource, samplingHubs, type TargetSample } from '../../src/admin/dashboard/index.ts'
import { startAdminServer } from '../../src/admin/server.ts'
import type { ControlPlane } from '../../src/control/control-plane.ts'
import { silentLogger } from '../../src/log.ts'
import { Backend } from '../helpers/backend.ts'
import { startControlPlane } from '../helpers/control-plane.ts'
import { ROOT, until } from '../helpers/process.ts'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(ROOT, 'test-artifacts')
const HAVE_CHROMIUM = existsSync(CHROMIUM)
const NO_BROWSER = HAVE_CHROMIUM ? false : `${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`

if (!HAVE_CHROMIUM && process.env.CI === 'true') {
  test('Chromium is installed for the dashboard tests (CI)', () => {
    assert.fail(`${CHROMIUM} is missing under CI=true: .ci/run must install Debian's chromium`)
  })
}

/** A backend whose /health answers 200, or 500 once `failing`; `/slow` waits for `release()`. */
class Scripted extends Backend {
  failing = false
  #held: Array<() => void> = []
  constructor() {
    super((req, res) => {
      req.resume()
      if (req.url === '/health') { res.statusCode = this.failing ? 500 : 200; res.end(); return }
      if (req.url === '/slow') { this.#held.push(() => res.end('slow')); return }
      res.end(`Response from ${this.port}`)
    })
  }

  release(): void {
    for (const end of this.#held.splice(0)) end()
  }
}

async function backends(t: TestContext, n: number): Promise<Scripted[]> {
  const list = await Promise.all(Array.from({ length: n }, () => new Scripted().start()))
  t.after(async () => { for (const b of list) b.release(); await Promise.all(list.map((b) => b.close())) })
  return list
}

function config(groups: Record<string, string[]>, admin = 'admin: { listen: "127.0.0.1:0" }', extra = ''): string {
  const names = Object.keys(groups)
  const body = names.map((g) => `  ${g}:
    targets: [${groups[g].map((a) => `"${a}"`).join(', ')}]
    healthCheck: { path: /health, interval: 100ms, timeout: 95ms, healthyThreshold: 2, unhealthyThreshold: 3 }
    deregistrationDelay: 30s
`).join('')
  return `${admin}
listeners:
  - { name: web, protocol: http, listen: "127.0.0.1:0", routes: [{ forward: ${names[0]} }] }
targetGroups:
${body}${extra}`
}

async function startDashboard(t: TestContext, yaml: string) {
  const running = await startControlPlane(t, yaml)
  const server = await startAdminServer(running.cp, running.cp.config.admin, silentLogger())
  t.after(() => server.close())
  return { ...running, base: `http://127.0.0.1:${server.port}` }
}

async function allHealthy(cp: ControlPlane): Promise<void> {
  await until(() => cp.records().every((r) => r.state === 'healthy' || r.state === 'unused'), 5_000, 'every target to turn healthy')
}

// ---- The event stream, read as a browser would --------------------------------------------------------

interface SseEvent { event: string; data: any }

/** Reads `GET /api/v1/events` and collects its events. */
async function openEvents(t: TestContext, url: string) {
  const abort = new AbortController()
  const res = await fetch(url, { signal: abort.signal })
  const events: SseEvent[] = []
  const comments: string[] = []
  const done = (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const lines = block.split('\n')
          for (const l of lines) if (l.startsWith(':')) comments.push(l)
          const name = lines.find((l) => l.startsWith('event: '))?.slice(7)
          const data = lines.find((l) => l.startsWith('data: '))?.slice(6)
          if (name !== undefined && data !== undefined) events.push({ event: name, data: JSON.parse(data) })
        }
      }
    } catch { /* aborted */ }
  })()
  const close = async (): Promise<void> => { abort.abort(); await done }
  t.after(close)
  const next = async (event: string, test: (data: any) => boolean = () => true, ms = 5_000): Promise<any> => {
    let found: SseEvent | undefined
    await until(() => (found = events.find((e) => e.event === event && test(e.data))) !== undefined, ms, `an SSE "${event}" event`)
    return found?.data
  }
  return { res, events, comments, next, close }
}

test('GET /api/v1/events: status at once, series every second, only while someone listens', async (t) => {
  const [a, b] = await backends(t, 2)
  const { cp, base } = await startDashboard(t, config({ app: [a.address, b.address] }))
  await allHealthy(cp)
  const sse = await openEvents(t, `${base}/api/v1/events`)
  assert.equal(sse.res.status, 200)
  assert.match(String(sse.res.headers.get('content-type')), /^text\/event-stream/)
  const status = await sse.next('status')
  assert.deepEqual(status.targetGroups[0].targets.map((x: any) => [x.address, x.state]), [[a.address, 'healthy'], [b.address, 'healthy']])
  assert.deepEqual(status.reloads, [])
  // The default source knows in-flight counts only: req/s and p99 are null and the frame says so.
  const series = await sse.next('series', (d) => d.t.length === 1)
  assert.equal(series.counted, false)
  assert.deepEqual(series.targets.map((x: any) => [x.address, x.rps, x.p99, x.inFlight]), [[a.address, [null], [null], [0]], [b.address, [null], [null], [0]]])
  assert.equal(samplingHubs(), 1)

  // A change is sent within the next second; an unchanged status is not sent again.
  const sent = sse.events.filter((e) => e.event === 'status').length
  a.failing = true
  const down = await sse.next('status', (d) => d.targetGroups[0].targets[0].state === 'unhealthy', 3_000)
  assert.match(down.targetGroups[0].targets[0].reason, /3 checks failed in a row \(status 500/)
  assert.ok(sse.events.filter((e) => e.event === 'status').length <= sent + 2, 'status is sent on change, not every second')

  await sse.close()
  await until(() => samplingHubs() === 0, 2_000, 'sampling to stop once the last client left')
})

test('GET /api/v1/events with admin.token: the header or ?token= (constant-time); the page itself is public', async (t) => {
  const [a] = await backends(t, 1)
  const { base } = await startDashboard(t, config({ app: [a.address] }, 'admin: { listen: "127.0.0.1:0", token: s3cret }'))
  for (const query of ['', '?token=', '?token=wrong', '?token=s3cre']) {
    const res = await request(`${base}/api/v1/events${query}`)
    assert.equal(res.statusCode, 401, query)
    assert.equal((await res.body.json() as any).error.code, 'unauthorized')
  }
  const viaQuery = await openEvents(t, `${base}/api/v1/events?token=s3cret`)
  assert.equal(viaQuery.res.status, 200)
  await viaQuery.next('status')
  await viaQuery.close()
  const viaHeader = await request(`${base}/api/v1/events`, { headers: { authorization: 'Bearer s3cret' } })
  assert.equal(viaHeader.statusCode, 200)
  viaHeader.body.destroy()
  // ?token= is for the stream only.
  assert.equal((await request(`${base}/api/v1/status?token=s3cret`)).statusCode, 401)

  const page = await request(`${base}/`)
  assert.equal(page.statusCode, 200)
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/)
  const html = await page.body.text()
  const uplot = /src="\/dashboard\/(uplot-[\d.]+\.min\.js)"/.exec(html)?.[1]
  assert.ok(uplot !== undefined, 'the page loads uPlot from the balancer')
  const lib = await request(`${base}/dashboard/${uplot}`, { headers: { 'accept-encoding': 'gzip' } })
  assert.equal(lib.statusCode, 200)
  assert.equal(lib.headers['content-encoding'], 'gzip')
  assert.match(String(lib.headers['cache-control']), /max-age=31536000, immutable/)
  await lib.body.dump()
  const js = await request(`${base}/dashboard/dashboard.js`)
  assert.equal(js.statusCode, 200)
  const etag = String(js.headers.etag)
  await js.body.dump()
  assert.equal((await request(`${base}/dashboard/dashboard.js`, { headers: { 'if-none-match': etag } })).statusCode, 304)
  assert.equal((await request(`${base}/dashboard/nothing.js`)).statusCode, 404)
})

test('a target\'s timeline, deregistered targets that left, and reloads with what they changed', async (t) => {
  const [a, b, c] = await backends(t, 3)
  const { cp, base, write } = await startDashboard(t, config({ app: [a.address, b.address] }))
  await allHealthy(cp)
  const sse = await openEvents(t, `${base}/api/v1/events`)
  await sse.next('status')
  a.failing = true
  await until(() => cp.record('app', a.address)?.state === 'unhealthy', 3_000, 'a to turn unhealthy')
  const path = `${base}/api/v1/target-groups/app/targets/${encodeURIComponent(a.address)}/timeline`
  const timeline = (await (await request(path)).body.json() as any).timeline
  assert.deepEqual(timeline.map((e: any) => [e.from, e.to]), [['initial', 'initial'], ['initial', 'healthy'], ['healthy', 'unhealthy']])
  assert.match(timeline[2].reason, /failed in a row/)

  assert.equal((await request(`${base}/api/v1/target-groups/app/targets/${encodeURIComponent(b.address)}?wait=true`, { method: 'DELETE' })).statusCode, 200)
  const left = await sse.next('status', (d) => d.removedTargets.length === 1, 3_000)
  assert.deepEqual(left.removedTargets.map((r: any) => [r.group, r.address, r.weight]), [['app', b.address, 1]])
  const bTimeline = (await (await request(`${base}/api/v1/target-groups/app/targets/${encodeURIComponent(b.address)}/timeline`)).body.json() as any).timeline
  assert.deepEqual(bTimeline.slice(-2).map((e: any) => e.to), ['draining', 'removed'])

  write(config({ app: [a.address, c.address] }))
  assert.equal((await cp.reload()).ok, true)
  const reloaded = await sse.next('status', (d) => d.reloads.length === 1, 3_000)
  assert.deepEqual(reloaded.reloads[0].changes, [`target app ${c.address} added`, `target app ${b.address} removed`])
  assert.equal((await request(`${base}/api/v1/target-groups/app/targets/10.9.9.9%3A1/timeline`)).statusCode, 404)
})

// ---- The page in Chromium ---------------------------------------------------------------------------------

const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

async function browser(t: TestContext): Promise<Browser> {
  // launch() starts Chromium with a new, empty, temporary profile.
  const b = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS })
  t.after(() => b.close())
  return b
}

/** Console errors and uncaught exceptions of a page. */
function watchErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`) })
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  return errors
}

const row = (page: Page, group: string, address: string) => page.locator(`tr.target[data-group="${group}"][data-address="${address}"]`)
const stateOf = (page: Page, group: string, address: string) => row(page, group, address).locator('.chip')
/** The target's state chip once it reads exactly `state` ("healthy" must not match "unhealthy"). */
const chipIs = (page: Page, group: string, address: string, state: string | RegExp) =>
  stateOf(page, group, address).filter({ hasText: typeof state === 'string' ? new RegExp(`^${state}$`) : state })

/** Synthetic traffic for the charts: cumulative counts and latency buckets, as the metrics will give. */
function syntheticTraffic(cp: ControlPlane): void {
  const les = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, Infinity]
  const totals = new Map<string, { requests: number; counts: number[] }>()
  let tick = 0
  setSeriesSource(cp, {
    async sample(): Promise<TargetSample[]> {
      tick++
      return cp.records().map((r, i) => {
        const k = `${r.group}\n${r.address}`
        const total = totals.get(k) ?? { requests: 0, counts: les.map(() => 0) }
        totals.set(k, total)
        const n = r.state === 'healthy' ? 30 + 20 * i + ((tick * (i + 3)) % 11) : 0
        for (let j = 0; j < n; j++) {
          const seconds = (2 + 3 * i + ((j * 7 + tick) % 13)) / 1000 * (j % 50 === 0 ? 6 : 1)
          les.forEach((le, x) => { if (seconds <= le) total.counts[x]++ })
        }
        total.requests += n
        return { group: r.group, address: r.address, requests: total.requests, buckets: les.map((le, x) => ({ le, count: total.counts[x] })) }
      })
    },
  })
}

test('the page: every target with its state, a target going down within 2 s, screenshots at laptop and phone width', { skip: NO_BROWSER }, async (t) => {
  const [a, b, c, d, e] = await backends(t, 5)
  const yaml = config({ web: [a.address, b.address, c.address], api: [d.address], legacy: [e.address] }, undefined,
    '').replace('routes: [{ forward: web }]', 'routes: [{ match: { path: /api/ }, forward: api }, { forward: web }]')
  const { cp, base } = await startDashboard(t, yaml)
  syntheticTraffic(cp)
  await allHealthy(cp)
  const page = await (await browser(t)).newPage({ viewport: { width: 1366, height: 768 } })
  const errors = watchErrors(page)
  await page.goto(base)

  const expected: Array<[string, string, string]> = [['web', a.address, 'healthy'], ['web', b.address, 'healthy'], ['web', c.address, 'healthy'],
    ['api', d.address, 'healthy'], ['legacy', e.address, 'unused']]
  for (const [group, address, state] of expected) {
    await chipIs(page, group, address, state).waitFor({ timeout: 5_000 })
  }
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: 5_000 })

  c.failing = true
  const started = Date.now()
  await chipIs(page, 'web', c.address, 'unhealthy').waitFor({ timeout: 2_000 })
  assert.ok(Date.now() - started < 2_000)
  await page.locator('#events .ev-unhealthy').first().waitFor({ timeout: 2_000 })

  // Let the charts gather a few seconds of points, then check the numbers the page shows.
  await until(async () => (await row(page, 'web', a.address).locator('.c-rps .val').textContent()) !== '—', 5_000, 'req/s to show')
  await page.waitForTimeout(4_000)
  await until(async () => /ms$/.test(String(await row(page, 'web', a.address).locator('.c-p99 .val').textContent())), 5_000, 'p99 to show')

  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-laptop.png') })
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-laptop-full.png'), fullPage: true })

  await row(page, 'web', c.address).locator('.addr').click()
  await page.locator('#target-dialog .timeline .tl-unhealthy').first().waitFor({ timeout: 3_000 })
  await page.waitForTimeout(300)
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-target.png') })
  await page.keyboard.press('Escape')

  await page.setViewportSize({ width: 390, height: 844 })
  await page.waitForTimeout(500)
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png') })
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone-full.png'), fullPage: true })
  // Nothing wider than the phone's screen.
  assert.equal(await page.evaluate('document.documentElement.scrollWidth'), 390)
  assert.deepEqual(errors, [])
})

test('the page with admin.token: asks for the token, Drain turns the target draining within 2 s, Re-enable brings it back', { skip: NO_BROWSER }, async (t) => {
  const [a, b] = await backends(t, 2)
  const { cp, url, base } = await startDashboard(t, config({ app: [a.address, b.address] }, 'admin: { listen: "127.0.0.1:0", token: s3cret }'))
  await allHealthy(cp)
  // A request held on each target, so a drained one stays draining until release.
  const web = await url()
  const held = [request(`${web}/slow`), request(`${web}/slow`)]
  await until(() => [a, b].every((x) => x.received.some((r) => r.url === '/slow')), 3_000, 'a request in flight on each target')

  const page = await (await browser(t)).newPage({ viewport: { width: 1366, height: 768 } })
  const errors = watchErrors(page)
  await page.goto(base)
  const dialog = page.locator('#token-dialog')
  await dialog.waitFor({ state: 'visible', timeout: 5_000 })
  await dialog.locator('input').fill('wrong')
  await dialog.locator('button[type="submit"]').click()
  await dialog.locator('[data-error]').waitFor({ state: 'visible', timeout: 3_000 })
  await dialog.locator('input').fill('s3cret')
  await dialog.locator('button[type="submit"]').click()
  await chipIs(page, 'app', b.address, 'healthy').waitFor({ timeout: 5_000 })
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: 5_000 })

  // A token that is no longer good (forgotten, or the balancer's changed): the Drain's 401 asks again.
  await page.evaluate('sessionStorage.removeItem("fulcrum.adminToken")')
  await row(page, 'app', b.address).locator('button[data-action="drain"]').click()
  await dialog.waitFor({ state: 'visible', timeout: 3_000 })
  await dialog.locator('input').fill('s3cret')
  const clicked = Date.now()
  await dialog.locator('button[type="submit"]').click()
  await chipIs(page, 'app', b.address, 'draining').waitFor({ timeout: 2_000 })
  assert.ok(Date.now() - clicked < 2_000)
  assert.equal(cp.record('app', b.address)?.state, 'draining')
  // The stream (not only the page's own answer) shows it draining a second later.
  await page.waitForTimeout(1_500)
  assert.equal(await stateOf(page, 'app', b.address).textContent(), 'draining')
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-draining.png') })

  // Once its request is done it leaves the group; the page keeps it with a Re-enable button.
  b.release()
  await chipIs(page, 'app', b.address, 'removed').waitFor({ timeout: 3_000 })
  await row(page, 'app', b.address).locator('button[data-action="enable"]').click()
  await chipIs(page, 'app', b.address, /^(initial|healthy)$/).waitFor({ timeout: 2_000 })
  await chipIs(page, 'app', b.address, 'healthy').waitFor({ timeout: 3_000 })
  a.release()
  await Promise.all(held.map(async (r) => (await r).body.dump()))

  // The 401s were the API asking for the token; nothing else went wrong.
  assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), [])
})
