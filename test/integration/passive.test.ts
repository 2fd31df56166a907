/** Passive health through a live listener: a failing target is skipped for failTimeout, then one trial decides. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'

const get = async (url: string) => (await request(url)).body.text()

test('maxFails failures mark a target down for failTimeout; after it, a trial brings it back', async (t) => {
  const a = await new Backend().start()
  const b = await new Backend().start()
  t.after(() => Promise.all([a.close(), b.close()]))
  const lb = await startBalancer(t, simpleConfig([a.address, b.address], { passive: { maxFails: 1, failTimeout: '1s' } }))
  const portA = a.port
  await a.kill()
  // The first request meets the dead target and is retried on b; a is then left alone.
  for (let i = 0; i < 10; i++) assert.equal(await get(lb.url()), `Response from ${b.port}`)
  const failedAt = Date.now()
  await a.start(portA)
  const before = a.count
  for (let i = 0; i < 10; i++) await get(lb.url())
  assert.equal(a.count, before, 'a is not tried again before failTimeout, though it is back')
  const deadline = Date.now() + 5_000
  while (a.count === before && Date.now() < deadline) {
    await get(lb.url())
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.ok(a.count > before, 'a trial request reached a after failTimeout')
  assert.ok(Date.now() - failedAt >= 900)
  const bodies: string[] = []
  for (let i = 0; i < 6; i++) bodies.push(await get(lb.url()))
  assert.equal(bodies.filter((x) => x === `Response from ${portA}`).length, 3, 'a takes its share again')
})

test('maxFails counts failures within the window only', async (t) => {
  const flaky = await new Backend((req, res) => { req.resume(); res.writeHead(502); res.end() }).start()
  const good = await new Backend().start()
  t.after(() => Promise.all([flaky.close(), good.close()]))
  const lb = await startBalancer(t, simpleConfig([flaky.address, good.address], {
    passive: { maxFails: 3, failTimeout: '10s' }, retries: { on: ['error', 'http_502'] },
  }))
  for (let i = 0; i < 12; i++) assert.equal(await get(lb.url()), `Response from ${good.port}`)
  assert.equal(flaky.count, 3, 'three failures, then the target is left alone for failTimeout')
})
