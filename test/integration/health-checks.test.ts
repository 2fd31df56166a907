/**
 * Active health checks through the control plane, against real backends: targets that answer 500, hang,
 * refuse, then recover; fail-open and fail-closed; initial targets before any verdict.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { startControlPlane, type RunningControlPlane } from '../helpers/control-plane.ts'

const get = async (url: string) => { const r = await request(url); return { status: r.statusCode, body: await r.body.text() } }

/** A backend whose /health answer the test sets: a status, or 'hang'. */
function checked(): Backend & { health: number | 'hang' } {
  const b = new Backend((req, res) => {
    req.resume()
    if (req.url === '/health') {
      if (b.health === 'hang') return
      res.writeHead(b.health)
      res.end()
      return
    }
    res.end(`Response from ${b.port}`)
  }) as Backend & { health: number | 'hang' }
  b.health = 200
  return b
}

function yaml(addresses: string[], extra = ''): string {
  return `admin: { enabled: false }
dataDir: ./data
listeners: [{ name: web, protocol: http, listen: "127.0.0.1:0", routes: [{ forward: app }] }]
targetGroups:
  app:
    targets: [${addresses.join(', ')}]
    healthCheck: { path: /health, interval: 100ms, timeout: 60ms, healthyThreshold: 2, unhealthyThreshold: 2, matcher: "200-299" }
${extra}`
}

async function until(what: string, predicate: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const stateOf = (run: RunningControlPlane, b: Backend) => run.cp.record('app', b.address)?.state

test('500, hanging and refusing targets turn unhealthy with the reason; traffic goes to the healthy one; recovery', async (t) => {
  const [good, failing, hanging, dying] = [checked(), checked(), checked(), checked()]
  await Promise.all([good.start(), failing.start(), hanging.start(), dying.start()])
  t.after(() => Promise.all([good.close(), failing.close(), hanging.close(), dying.close()]))
  failing.health = 500
  hanging.health = 'hang'
  const run = await startControlPlane(t, yaml([good, failing, hanging, dying].map((b) => b.address)))
  assert.equal(stateOf(run, good), 'initial')
  await until('good healthy', () => stateOf(run, good) === 'healthy')
  await dying.kill()
  await until('three unhealthy', () => [failing, hanging, dying].every((b) => stateOf(run, b) === 'unhealthy'))
  assert.match(run.cp.record('app', failing.address)!.reason, /2 checks failed in a row \(status 500 \(expected 200-299\)\)/)
  assert.match(run.cp.record('app', hanging.address)!.reason, /timeout after 60ms/)
  assert.match(run.cp.record('app', dying.address)!.reason, /connection refused/)

  const url = await run.url()
  for (let i = 0; i < 8; i++) assert.equal((await get(url)).body, `Response from ${good.port}`)

  failing.health = 200
  await until('failing recovered', () => stateOf(run, failing) === 'healthy')
  const bodies = new Set<string>()
  for (let i = 0; i < 8; i++) bodies.add((await get(url)).body)
  assert.deepEqual(bodies, new Set([`Response from ${good.port}`, `Response from ${failing.port}`]))
  const transitions = run.cp.transitions.filter((x) => x.address === failing.address).map((x) => `${x.from}->${x.to}`)
  assert.deepEqual(transitions, ['initial->initial', 'initial->unhealthy', 'unhealthy->healthy'])
})

test('every target unhealthy: fail-open serves them all; fail-closed answers 503', async (t) => {
  const backends = [checked(), checked()]
  await Promise.all(backends.map((b) => b.start()))
  t.after(() => Promise.all(backends.map((b) => b.close())))
  for (const b of backends) b.health = 503
  const open = await startControlPlane(t, yaml(backends.map((b) => b.address)))
  await until('all unhealthy', () => backends.every((b) => stateOf(open, b) === 'unhealthy'))
  const served = new Set<string>()
  for (let i = 0; i < 6; i++) {
    const r = await get(await open.url())
    assert.equal(r.status, 200)
    served.add(r.body)
  }
  assert.equal(served.size, 2, 'fail-open uses every target')

  const closed = await startControlPlane(t, yaml(backends.map((b) => b.address), '    failOpen: false\n'))
  await until('all unhealthy', () => backends.every((b) => stateOf(closed, b) === 'unhealthy'))
  assert.equal((await get(await closed.url())).status, 503)
})

test('initial targets serve while no target is healthy yet; then only healthy ones do', async (t) => {
  const slow = checked()
  const fast = checked()
  await Promise.all([slow.start(), fast.start()])
  t.after(() => Promise.all([slow.close(), fast.close()]))
  slow.health = 'hang'
  fast.health = 'hang'
  const run = await startControlPlane(t, yaml([slow.address, fast.address], '').replace('unhealthyThreshold: 2', 'unhealthyThreshold: 50'))
  // No verdict yet: both are initial and share the traffic rather than the group answering 503.
  const first = new Set<string>()
  for (let i = 0; i < 4; i++) first.add((await get(await run.url())).body)
  assert.equal(first.size, 2)
  fast.health = 200
  await until('fast healthy', () => stateOf(run, fast) === 'healthy')
  for (let i = 0; i < 6; i++) assert.equal((await get(await run.url())).body, `Response from ${fast.port}`)
})
