/**
 * `fulcrum rollout` against a real `fulcrum start`, four backends and a load loop running the whole time.
 * The --exec command asks this test (over a small HTTP control endpoint) to restart the backend of
 * {address}: kill it, start it again on the same port, then answer. Zero failed requests, each backend
 * restarted once; and the aborts: a target that stays unhealthy, and a command that fails.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { Backend, type Handler } from '../helpers/backend.ts'
import { startLoad } from '../helpers/load.ts'
import { freePort, NODE, spawnFulcrum, tempDir, until, waitForHttp } from '../helpers/process.ts'

interface Fleet {
  readonly backends: Backend[]
  /** Addresses restarted by the exec command, in order. */
  readonly restarted: string[]
  /** Make a backend fail its health checks once it has been restarted. */
  failAfterRestart: Set<string>
  readonly exec: string
  readonly file: string
  readonly url: string
  state(address: string): Promise<string | undefined>
}

const handler = (failing: () => boolean): Handler => (req, res, b) => {
  req.resume()
  if (req.url === '/health') { res.statusCode = failing() ? 500 : 200; res.end(); return }
  res.end(`Response from ${b.port}`)
}

async function fleet(t: TestContext, n: number): Promise<Fleet> {
  const failing = new Set<string>()
  const restarted: string[] = []
  const backends = await Promise.all(Array.from({ length: n }, () => {
    const b: Backend = new Backend(handler(() => failing.has(b.address) && restarted.includes(b.address)))
    return b.start()
  }))
  t.after(() => Promise.all(backends.map((b) => b.close())))

  // The control endpoint the exec command calls: restart the backend of ?address=, then answer 200.
  const control = createServer(async (req, res) => {
    const address = new URL(req.url ?? '/', 'http://x').searchParams.get('address')
    const b = backends.find((x) => x.address === address)
    if (b === undefined) { res.statusCode = 404; res.end(); return }
    const port = b.port
    await b.kill()
    restarted.push(b.address)
    await b.start(port)
    res.end('restarted')
  }).listen(0, '127.0.0.1')
  await once(control, 'listening')
  t.after(() => { control.closeAllConnections(); control.close() })
  const controlPort = (control.address() as { port: number }).port
  const exec = `${NODE} -e "fetch('http://127.0.0.1:${controlPort}/restart?address={address}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"`

  const [port, adminPort] = [await freePort(), await freePort()]
  const file = tempDir(t).write('fulcrum.yaml', `admin: { listen: "127.0.0.1:${adminPort}" }
listeners:
  - { name: web, protocol: http, listen: "127.0.0.1:${port}", routes: [{ forward: app }] }
targetGroups:
  app:
    targets: [${backends.map((b) => b.address).join(', ')}]
    healthCheck: { path: /health, interval: 100ms, timeout: 80ms, healthyThreshold: 2, unhealthyThreshold: 2 }
    deregistrationDelay: 5s
`)
  const lb = spawnFulcrum(t, ['start', '-c', file])
  const admin = `http://127.0.0.1:${adminPort}`
  await waitForHttp(`${admin}/api/v1/status`, 5_000, lb)
  const state = async (address: string) => {
    const res = await fetch(`${admin}/api/v1/target-groups/app`)
    const body = (await res.json()) as { targets: Array<{ address: string; state: string }> }
    return body.targets.find((x) => x.address === address)?.state
  }
  await until(async () => (await Promise.all(backends.map((b) => state(b.address)))).every((s) => s === 'healthy'), 5_000, 'every target healthy')
  return { backends, restarted, failAfterRestart: failing, exec, file, url: `http://127.0.0.1:${port}/`, state }
}

test('rollout under a load loop: every target restarted once, zero failed requests', async (t) => {
  const f = await fleet(t, 4)
  const load = startLoad(f.url, { concurrency: 4, maxMs: 30_000, maxRequests: 200_000 })
  t.after(() => load.stop())
  await load.waitFor(100)
  const rollout = spawnFulcrum(t, ['rollout', '--group', 'app', '--exec', f.exec, '--timeout', '10s', '-c', f.file])
  const exit = await rollout.waitForExit(25_000)
  await load.waitFor(load.result.ok + load.result.failed + 100)
  const result = await load.stop()
  assert.equal(exit.code, 0, rollout.output)
  assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.failures)}\n${rollout.output}`)
  assert.deepEqual([...f.restarted].sort(), f.backends.map((b) => b.address).sort(), 'each backend restarted exactly once')
  assert.match(rollout.stdout, /rollout complete: 4 targets of "app" restarted and healthy/)
  for (const b of f.backends) assert.equal(await f.state(b.address), 'healthy')
  // Order of the steps for one target, as printed.
  const first = f.restarted[0]
  const steps = ['deregistered, draining', 'drained', 'running:', 'registered again', 'healthy'].map((s) => rollout.stdout.indexOf(`${first}: ${s}`))
  assert.deepEqual([...steps].sort((x, y) => x - y), steps, rollout.stdout)
  assert.ok(steps.every((i) => i >= 0), rollout.stdout)
})

test('rollout aborts when a restarted target stays unhealthy: exit 1, the rest untouched, the target registered', async (t) => {
  const f = await fleet(t, 4)
  for (const b of f.backends) f.failAfterRestart.add(b.address)
  const started = Date.now()
  const rollout = spawnFulcrum(t, ['rollout', '--group', 'app', '--exec', f.exec, '--timeout', '1s', '-c', f.file])
  const exit = await rollout.waitForExit(10_000)
  assert.equal(exit.code, 1, rollout.output)
  assert.ok(Date.now() - started < 8_000, 'gave up within the timeout (plus start-up)')
  assert.equal(f.restarted.length, 1, 'only one target was touched')
  const failed = f.restarted[0]
  assert.match(rollout.stderr, new RegExp(`rollout aborted at ${failed}: not healthy within 1s`))
  assert.match(rollout.stderr, /done: none; failed: /)
  assert.match(rollout.stderr, /not touched: 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+/)
  assert.notEqual(await f.state(failed), undefined, 'the failed target is registered')
  for (const b of f.backends.filter((x) => x.address !== failed)) assert.equal(await f.state(b.address), 'healthy')
})

test('rollout aborts when the command fails: the drained target is registered again', async (t) => {
  const f = await fleet(t, 2)
  const rollout = spawnFulcrum(t, ['rollout', '--group', 'app', '--exec', 'echo restarting {address}; exit 3', '-c', f.file])
  const exit = await rollout.waitForExit(10_000)
  assert.equal(exit.code, 1, rollout.output)
  const [a, b] = f.backends
  assert.match(rollout.stdout, new RegExp(`restarting ${a.address}`))
  assert.match(rollout.stderr, new RegExp(`rollout aborted at ${a.address}: the command failed \\(exit code 3\\)`))
  assert.match(rollout.stderr, new RegExp(`${a.address} registered again \\(weight 1\\)`))
  assert.match(rollout.stderr, new RegExp(`not touched: ${b.address}`))
  await until(async () => (await f.state(a.address)) === 'healthy', 5_000, 'the restored target to turn healthy')
  assert.equal(await f.state(b.address), 'healthy')
})
