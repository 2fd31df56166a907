/**
 * `workers: N`: data-plane worker processes sharing each port with SO_REUSEPORT, driven by the primary
 * through WorkerDataPlane. Real processes and sockets; every worker is stopped (or killed) after a test.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { once } from 'node:events'
import type { ConfigInput } from '../../src/config/schema.ts'
import { WorkerDataPlane } from '../../src/control/worker-data-plane.ts'
import { silentLogger } from '../../src/log.ts'
import { startBackends, type Backend } from '../helpers/backend.ts'
import { parse, simpleConfig } from '../helpers/balancer.ts'
import { startLoad } from '../helpers/load.ts'

async function startWorkers(t: TestContext, workers: number, input: ConfigInput): Promise<{ plane: WorkerDataPlane; url: string }> {
  const plane = new WorkerDataPlane({ workers, log: silentLogger() })
  await plane.start(parse(input), [])
  t.after(() => plane.stop(1_000))
  const { web } = await plane.ports()
  return { plane, url: `http://127.0.0.1:${web}` }
}

async function backends(t: TestContext, n: number): Promise<Backend[]> {
  const list = await startBackends(n)
  t.after(() => Promise.all(list.map((b) => b.close())))
  return list
}

test('two workers serve every request, and apply() reaches every worker', async (t) => {
  const bs = await backends(t, 5)
  const { plane, url } = await startWorkers(t, 2, simpleConfig(bs.slice(0, 4).map((b) => b.address)))
  assert.equal(plane.workers().length, 2)

  const first = await startLoad(url, { concurrency: 20, maxRequests: 200 }).done
  assert.deepEqual([first.ok, first.failed], [200, 0], JSON.stringify(first.failures))
  for (const b of bs.slice(0, 4)) assert.ok(b.count > 0, `${b.address} got traffic`)

  const summary = await plane.apply(parse(simpleConfig(bs.map((b) => b.address))), [])
  assert.deepEqual(summary.targetsAdded, [`app/${bs[4].address}`])
  // apply() resolved, so every worker's model already holds the new target.
  for (const w of await plane.inFlightByWorker()) assert.ok(bs[4].address in w.counts, `worker ${w.pid} has the new target`)

  const second = await startLoad(url, { concurrency: 20, maxRequests: 200 }).done
  assert.deepEqual([second.ok, second.failed], [200, 0], JSON.stringify(second.failures))
  assert.ok(bs[4].count >= 20, `the new target takes its share: ${bs[4].count} of 200`)
})

test('a reload under load swaps the snapshot in every worker with no request lost', async (t) => {
  const bs = await backends(t, 5)
  const four = simpleConfig(bs.slice(0, 4).map((b) => b.address))
  const five = simpleConfig(bs.map((b) => b.address))
  const { plane, url } = await startWorkers(t, 2, four)
  const load = startLoad(url, { concurrency: 16, maxRequests: 50_000, maxMs: 15_000 })
  t.after(() => load.stop())
  await load.waitFor(100)
  for (let i = 0; i < 6; i++) {
    await plane.apply(parse(i % 2 === 0 ? five : four), [])
    await load.waitFor(load.result.ok + load.result.failed + 100)
  }
  const result = await load.stop()
  assert.equal(result.failed, 0, JSON.stringify(result.failures))
  assert.ok(result.ok >= 700, `${result.ok} requests served`)
  assert.ok(bs[4].count > 0, 'the target added by the reloads took traffic')
})

test('port 0 is resolved once: every worker and every reload use the same port', async (t) => {
  const bs = await backends(t, 1)
  const { plane, url } = await startWorkers(t, 2, simpleConfig([bs[0].address]))
  const before = await plane.ports()
  assert.ok(before.web > 0)
  await plane.apply(parse(simpleConfig([bs[0].address])), [])
  assert.deepEqual(await plane.ports(), before)
  const result = await startLoad(url, { concurrency: 8, maxRequests: 80 }).done
  assert.equal(result.ok, 80)
})

test('a new listener on a port another process holds fails the whole apply; the old snapshot keeps serving', async (t) => {
  const bs = await backends(t, 1)
  const blocker = createServer().listen({ port: 0, host: '127.0.0.1', reusePort: true })
  await once(blocker, 'listening')
  t.after(() => blocker.close())
  const busy = (blocker.address() as { port: number }).port
  const { plane, url } = await startWorkers(t, 2, simpleConfig([bs[0].address]))
  const next = simpleConfig([bs[0].address])
  ;(next.listeners as unknown[]).push({ name: 'second', protocol: 'http', listen: `127.0.0.1:${busy}`, routes: [{ forward: 'app' }] })
  // Even with SO_REUSEPORT on the other side, the port is not shared with a foreign process.
  await assert.rejects(plane.apply(parse(next), []), /listener second cannot listen on 127\.0\.0\.1:\d+: the address is already in use/)
  assert.deepEqual(Object.keys(await plane.ports()), ['web'])
  const result = await startLoad(url, { concurrency: 4, maxRequests: 40 }).done
  assert.equal(result.ok, 40)
})

test('stop() drains and ends every worker', async (t) => {
  const bs = await backends(t, 1)
  const plane = new WorkerDataPlane({ workers: 2, log: silentLogger() })
  await plane.start(parse(simpleConfig([bs[0].address])), [])
  const pids = plane.workers().map((w) => w.pid)
  await plane.stop(1_000)
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`)
})
