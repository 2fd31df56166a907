/**
 * The seed document's scenario (../shared/seeds/000_*.txt): four copies of an app behind the balancer
 * answer in turn; one copy dies under load and no client request fails; three more copies are added by a
 * reload under load and no client request fails.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startBackends } from '../helpers/backend.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'
import { startLoad } from '../helpers/load.ts'

const RETRY = { retries: { tries: 3, on: ['error', 'timeout', 'http_502', 'http_503', 'http_504'] } }

async function text(url: string): Promise<string> {
  const res = await request(url)
  return res.body.text()
}

test('four backends answer in round-robin order', async (t) => {
  const backends = await startBackends(4)
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const lb = await startBalancer(t, simpleConfig(backends.map((b) => b.address)))
  const seen: string[] = []
  for (let i = 0; i < 8; i++) seen.push(await text(lb.url()))
  const expected = backends.map((b) => `Response from ${b.port}`)
  assert.deepEqual(seen, [...expected, ...expected])
})

test('killing one backend under load fails no client request', async (t) => {
  const backends = await startBackends(4)
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const lb = await startBalancer(t, simpleConfig(backends.map((b) => b.address), RETRY))
  const load = startLoad(lb.url(), { concurrency: 8, maxRequests: 3_000, maxMs: 15_000 })
  await load.waitFor(500)
  await backends[1].kill()
  const countAtKill = load.result.ok + load.result.failed
  await load.waitFor(countAtKill + 1_000)
  const result = await load.stop()
  assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.failures)}`)
  assert.ok(result.ok >= 1_500, `only ${result.ok} requests completed`)
  // The survivors took the dead copy's share.
  for (const b of [backends[0], backends[2], backends[3]]) assert.ok((result.bodies[`Response from ${b.port}`] ?? 0) > 300)
})

test('adding three backends by reload under load fails no client request', async (t) => {
  const backends = await startBackends(7)
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const first = backends.slice(0, 4).map((b) => b.address)
  const lb = await startBalancer(t, simpleConfig(first, RETRY))
  const load = startLoad(lb.url(), { concurrency: 8, maxRequests: 4_000, maxMs: 15_000 })
  await load.waitFor(500)
  await lb.reload(simpleConfig(backends.map((b) => b.address), RETRY))
  const countAtReload = load.result.ok + load.result.failed
  await load.waitFor(countAtReload + 1_400)
  const result = await load.stop()
  assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.failures)}`)
  for (const b of backends.slice(4)) {
    assert.ok((result.bodies[`Response from ${b.port}`] ?? 0) >= 150, `new backend ${b.port} got little traffic`)
  }
})
