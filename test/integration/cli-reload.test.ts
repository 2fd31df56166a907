/**
 * SIGHUP reloads of the real `fulcrum start` process: under load, a good file adds a backend and a bad
 * file (broken YAML, then a route to a missing group) is rejected while the last good configuration
 * keeps serving, with no failed request throughout; a reload that moves the listener to another port
 * opens the new one, lets the old one's request in flight finish, then closes it; and one that moves it to
 * a port in use is rejected without losing the old port.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { request } from 'undici'
import { Backend, startBackends } from '../helpers/backend.ts'
import { startLoad } from '../helpers/load.ts'
import { freePort, spawnFulcrum, tempDir, until, waitForHttp, waitForRefused, yamlConfig } from '../helpers/process.ts'

test('SIGHUP under load: a good file adds a backend, bad files are rejected, no request fails', async (t) => {
  const backends = await startBackends(3)
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const [a, b, c] = backends
  const port = await freePort()
  const { write } = tempDir(t)
  const file = write('fulcrum.yaml', yamlConfig(port, [a.address, b.address]))
  const lb = spawnFulcrum(t, ['start', '-c', file])
  await waitForHttp(`http://127.0.0.1:${port}/`, 5_000, lb)

  const load = startLoad(`http://127.0.0.1:${port}/`, { concurrency: 4, maxRequests: 20_000, maxMs: 12_000 })
  t.after(() => load.stop())
  const completed = (): number => load.result.ok + load.result.failed
  await load.waitFor(200)
  assert.equal(c.count, 0)

  write('fulcrum.yaml', yamlConfig(port, [a.address, b.address, c.address]))
  lb.signal('SIGHUP')
  await lb.waitForOutput('configuration reloaded')
  await until(() => c.count >= 50, 5_000, 'the added backend to receive traffic')

  write('fulcrum.yaml', 'listeners: [ { name: web\n  protocol: http\n') // not YAML
  lb.signal('SIGHUP')
  await lb.waitForOutput('reload rejected')
  let mark = completed()
  await load.waitFor(mark + 200)

  write('fulcrum.yaml', yamlConfig(port, [a.address]).replace('forward: app', 'forward: gone'))
  lb.signal('SIGHUP')
  await lb.waitForOutput('reload rejected', 5_000, 2)
  // The rejected files changed nothing: the three backends of the last good file all keep serving.
  const before = backends.map((x) => x.count)
  mark = completed()
  await load.waitFor(mark + 300)
  const result = await load.stop()

  assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.failures)}\n${lb.output}`)
  backends.forEach((x, i) => assert.ok(x.count - before[i] >= 30, `backend ${i} got ${x.count - before[i]} of the last requests`))
  assert.ok((result.bodies[`Response from ${c.port}`] ?? 0) >= 50)
  assert.equal(lb.stdout.match(/configuration reloaded/g)?.length, 1, lb.output)
  assert.match(lb.stdout, /"gone\\?" does not exist/, 'the rejection says why')
  assert.ok(lb.running, 'still serving after the rejected reloads')
})

test('SIGHUP moving the listener to another port opens it, drains the old one, then closes it', async (t) => {
  let releaseSlow: () => void = () => {}
  const slowGate = new Promise<void>((resolve) => { releaseSlow = resolve })
  const backend = await new Backend((req, res, self) => {
    req.resume()
    if (req.url !== '/slow') return void res.end(`Response from ${self.port}`)
    void slowGate.then(() => res.end('slow done'))
  }).start()
  t.after(() => { releaseSlow(); return backend.close() })
  const [oldPort, newPort] = [await freePort(), await freePort()]
  const { write } = tempDir(t)
  const file = write('fulcrum.yaml', yamlConfig(oldPort, [backend.address], 'drainTimeout: 5s\n'))
  const lb = spawnFulcrum(t, ['start', '-c', file])
  await waitForHttp(`http://127.0.0.1:${oldPort}/`, 5_000, lb)

  // A request in flight on the old port when the reload moves the listener.
  const inFlight = request(`http://127.0.0.1:${oldPort}/slow`, { reset: true }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }))
  await until(() => backend.received.some((r) => r.url === '/slow'), 5_000, 'the slow request to reach the backend')

  write('fulcrum.yaml', yamlConfig(newPort, [backend.address], 'drainTimeout: 5s\n'))
  lb.signal('SIGHUP')
  await lb.waitForOutput('configuration reloaded')
  assert.equal(await waitForHttp(`http://127.0.0.1:${newPort}/`, 2_000, lb), 200)
  // The old listener stopped accepting at the swap, while its last request is still running.
  await waitForRefused(oldPort, 2_000)

  releaseSlow()
  assert.deepEqual(await inFlight, { status: 200, body: 'slow done' })
  await waitForRefused(oldPort, 2_000)
  const res = await request(`http://127.0.0.1:${newPort}/`)
  assert.equal(await res.body.text(), `Response from ${backend.port}`)
  assert.ok(lb.running)
})

test('SIGHUP moving the listener to a port in use is rejected, and the old port keeps serving', async (t) => {
  const backend = await new Backend().start()
  const blocker = createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.after(() => Promise.all([backend.close(), new Promise((resolve) => blocker.close(resolve))]))
  const busyPort = (blocker.address() as { port: number }).port
  const port = await freePort()
  const { write } = tempDir(t)
  const file = write('fulcrum.yaml', yamlConfig(port, [backend.address]))
  const lb = spawnFulcrum(t, ['start', '-c', file])
  await waitForHttp(`http://127.0.0.1:${port}/`, 5_000, lb)

  write('fulcrum.yaml', yamlConfig(busyPort, [backend.address]))
  lb.signal('SIGHUP')
  await lb.waitForOutput(/reload (rejected|failed)/)
  assert.match(lb.stdout, new RegExp(`${busyPort}.*already in use`), lb.output)
  assert.doesNotMatch(lb.stdout, /configuration reloaded/)
  const res = await request(`http://127.0.0.1:${port}/`, { reset: true })
  assert.equal(await res.body.text(), `Response from ${backend.port}`)
  assert.ok(lb.running)
})
