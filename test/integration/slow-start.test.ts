/**
 * Slow start through a live listener: a target that turns healthy while its peers serve gets a small
 * share at first and its full share once the ramp is over. The ramp runs on the real clock, so the test
 * sends requests until the times it looks at have passed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startBackends } from '../helpers/backend.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'

test('slow start: a target turned healthy during the run ramps from a small share to its full share', async (t) => {
  const backends = await startBackends(3)
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const [a, b, c] = backends
  // With a health check configured, targets start 'initial'; this data-plane test plays the control plane.
  const lb = await startBalancer(t, simpleConfig(backends.map((x) => x.address), { slowStart: '2s', healthCheck: { protocol: 'tcp' } }))
  const health = lb.balancer.health
  health.set('app', a.address, 'healthy')
  health.set('app', b.address, 'healthy')
  const get = async (): Promise<string> => (await request(lb.url())).body.text()
  for (let i = 0; i < 10; i++) await get()
  assert.equal(c.count, 0, 'initial targets take no traffic while others are healthy')

  health.set('app', c.address, 'healthy')
  const start = performance.now()
  const early = { all: 0, c: 0 }
  while (performance.now() - start < 500) {
    early.all++
    if ((await get()) === `Response from ${c.port}`) early.c++
  }
  // Its full share would be a third; over the first quarter of the ramp it averages under a tenth.
  assert.ok(early.all >= 20, `only ${early.all} requests in 500ms`)
  assert.ok(early.c / early.all < 0.2, `new target got ${early.c} of ${early.all} early requests`)
  assert.ok(early.c >= 1, 'but it does get some')

  while (performance.now() - start < 2_050) await get()
  const late = { all: 0, c: 0 }
  for (let i = 0; i < 300; i++) {
    late.all++
    if ((await get()) === `Response from ${c.port}`) late.c++
  }
  t.diagnostic(`new target: ${early.c}/${early.all} in the first 500ms, ${late.c}/${late.all} after the ramp`)
  assert.ok(Math.abs(late.c / late.all - 1 / 3) < 0.02, `after the ramp, ${late.c} of ${late.all}`)
})
