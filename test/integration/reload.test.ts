/**
 * Reload semantics in-process: unchanged targets keep their pooled connections and health state, requests
 * in flight finish on the old generation, and a reload that cannot be applied changes nothing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'

const get = async (url: string) => { const r = await request(url); return { status: r.statusCode, body: await r.body.text() } }

test('unchanged targets keep their connections and their passive health state across a reload', async (t) => {
  const a = await new Backend().start()
  const b = await new Backend().start()
  const c = await new Backend().start()
  t.after(() => Promise.all([a.close(), b.close(), c.close()]))
  const group = { passive: { maxFails: 1, failTimeout: '30s' } }
  const lb = await startBalancer(t, simpleConfig([a.address, b.address], group))
  const portA = a.port
  await a.kill()
  for (let i = 0; i < 4; i++) assert.equal((await get(lb.url())).body, `Response from ${b.port}`)
  await a.start(portA)
  const bConnections = b.connections
  await lb.reload(simpleConfig([a.address, b.address, c.address], group))
  const bodies: string[] = []
  for (let i = 0; i < 8; i++) bodies.push((await get(lb.url())).body)
  assert.ok(!bodies.includes(`Response from ${portA}`), 'a is still down after the reload: its state survived')
  assert.ok(bodies.includes(`Response from ${c.port}`), 'the new target takes traffic at once')
  assert.equal(b.connections, bConnections, 'b was served over the connection pooled before the reload')
})

test('a request in flight finishes on the old generation when its group is removed', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((r) => { release = r })
  const old = await new Backend(async (req, res) => { req.resume(); await held; res.end('old') }).start()
  const next = await new Backend((req, res) => { req.resume(); res.end('new') }).start()
  t.after(() => { release(); return Promise.all([old.close(), next.close()]) })
  const lb = await startBalancer(t, simpleConfig([old.address]))
  const inFlight = get(lb.url())
  while (old.count === 0) await new Promise((r) => setTimeout(r, 5))
  await lb.reload(simpleConfig([next.address]))
  assert.equal((await get(lb.url())).body, 'new')
  release()
  assert.deepEqual(await inFlight, { status: 200, body: 'old' })
})

test('a reload whose new listener cannot open changes nothing', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const blocker = createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.after(() => blocker.close())
  const busy = (blocker.address() as { port: number }).port
  const lb = await startBalancer(t, simpleConfig([backend.address]))
  const next = simpleConfig([backend.address])
  ;(next.listeners as unknown[]).push({ name: 'second', protocol: 'http', listen: `127.0.0.1:${busy}`, routes: [{ forward: 'app' }] })
  await assert.rejects(lb.reload(next), /cannot listen on 127\.0\.0\.1:\d+: the address is already in use/)
  assert.deepEqual(await get(lb.url()), { status: 200, body: `Response from ${backend.port}` })
  assert.deepEqual(Object.keys(lb.balancer.ports()), ['web'])
})

test('two listeners on port 0 get a port each and keep them across a reload', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const config = (): ReturnType<typeof simpleConfig> => {
    const c = simpleConfig([backend.address])
    ;(c.listeners as unknown[]).push({ name: 'second', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }] })
    return c
  }
  const lb = await startBalancer(t, config())
  const before = lb.balancer.ports()
  assert.ok(before.web > 0 && before.second > 0 && before.web !== before.second)
  await lb.reload(config())
  assert.deepEqual(lb.balancer.ports(), before)
  assert.equal((await get(lb.url('second'))).status, 200)
})
