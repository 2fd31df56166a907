/**
 * Stopping the real `fulcrum start` process: SIGTERM lets a request in flight finish with its whole body,
 * refuses new connections at once and exits 0 (also through the bin/fulcrum.js launcher, which forwards
 * the signal when it re-runs Fulcrum on Node 24); SIGINT when idle exits 0 without waiting on idle
 * keep-alive connections; a request longer than drainTimeout is cut and the process still exits 0; a
 * second stop signal exits at once with 1.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { freePort, killChildren, spawnCommand, spawnFulcrum, tempDir, until, waitForHttp, waitForRefused, yamlConfig } from '../helpers/process.ts'

const BODY = 'slow body '.repeat(20_000) // 200 kB: more than one socket write

/**
 * A backend whose `/slow` answers only when the test calls `release()` (a slow target, with no clock in
 * the test), and everything else at once.
 */
async function slowBackend(t: TestContext): Promise<{ backend: Backend; release: () => void; slowArrived: () => Promise<void> }> {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const backend = await new Backend((req, res) => {
    req.resume()
    if (req.url !== '/slow') return void res.end('fast')
    void gate.then(() => res.end(BODY))
  }).start()
  t.after(() => { release(); return backend.close() })
  const slowArrived = () => until(() => backend.received.some((r) => r.url === '/slow'), 5_000, 'the slow request to reach the backend')
  return { backend, release, slowArrived }
}

async function startFulcrum(t: TestContext, targets: string[], extra = '', launcher = false) {
  const port = await freePort()
  const file = tempDir(t).write('fulcrum.yaml', yamlConfig(port, targets, extra))
  // The launcher under an older node runs Fulcrum as its child: end that child too if the test fails.
  const lb = launcher
    ? spawnCommand(t, 'node', ['bin/fulcrum.js', 'start', '-c', file], 'node bin/fulcrum.js start', killChildren)
    : spawnFulcrum(t, ['start', '-c', file])
  await waitForHttp(`http://127.0.0.1:${port}/`, 5_000, lb)
  return { lb, port, url: `http://127.0.0.1:${port}` }
}

function get(url: string) {
  return request(url, { reset: true, headersTimeout: 10_000, bodyTimeout: 10_000 })
    .then(async (r) => ({ status: r.statusCode, body: await r.body.text() }))
}

test('SIGTERM: the request in flight completes, new connections are refused, exit 0', async (t) => {
  const { backend, release, slowArrived } = await slowBackend(t)
  const { lb, port, url } = await startFulcrum(t, [backend.address])
  const inFlight = get(`${url}/slow`)
  await slowArrived()

  lb.signal('SIGTERM')
  await lb.waitForOutput('stopping')
  await waitForRefused(port, 2_000)
  assert.ok(lb.running, 'must wait for the request in flight')

  release()
  const res = await inFlight
  assert.equal(res.status, 200)
  assert.equal(res.body.length, BODY.length)
  assert.equal(res.body, BODY)
  const exit = await lb.waitForExit(5_000)
  assert.deepEqual(exit, { code: 0, signal: null }, lb.output)
  assert.match(lb.stdout, /"msg":"stopped"/)
})

test('SIGINT when idle exits 0 at once, even with an idle keep-alive client connection open', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const { lb, port, url } = await startFulcrum(t, [backend.address])
  const agent = new Agent({ keepAliveTimeout: 60_000 })
  t.after(() => agent.destroy())
  const res = await request(url, { dispatcher: agent })
  assert.equal(await res.body.text(), `Response from ${backend.port}`)
  lb.signal('SIGINT')
  // drainTimeout is the default 30s: an idle connection must not hold the stop up that long.
  assert.deepEqual(await lb.waitForExit(5_000), { code: 0, signal: null }, lb.output)
  assert.match(lb.stdout, /"signal":"SIGINT"/)
  await waitForRefused(port, 1_000)
})

test('through bin/fulcrum.js with the node on PATH, SIGTERM still drains and exits 0', async (t) => {
  const { backend, release, slowArrived } = await slowBackend(t)
  const { lb, port, url } = await startFulcrum(t, [backend.address], '', true)
  const inFlight = get(`${url}/slow`)
  await slowArrived()
  lb.signal('SIGTERM')
  await waitForRefused(port, 2_000)
  release()
  assert.deepEqual(await inFlight, { status: 200, body: BODY })
  assert.deepEqual(await lb.waitForExit(5_000), { code: 0, signal: null }, lb.output)
  assert.match(lb.stdout, /"msg":"stopped"/)
})

test('a request longer than drainTimeout is cut, and the process still exits 0', async (t) => {
  const hanging = await slowBackend(t) // never released: the target hangs
  const { lb, url } = await startFulcrum(t, [hanging.backend.address], 'drainTimeout: 300ms\n')
  const inFlight = get(`${url}/slow`).then((r) => r, (err: Error & { code?: string }) => err)
  await hanging.slowArrived()

  lb.signal('SIGTERM')
  assert.deepEqual(await lb.waitForExit(3_000), { code: 0, signal: null }, lb.output)
  const outcome = await inFlight
  assert.ok(outcome instanceof Error, `the client must see the cut, got ${JSON.stringify(outcome).slice(0, 100)}`)
  assert.ok(['UND_ERR_SOCKET', 'ECONNRESET'].includes((outcome as { code?: string }).code ?? ''), String(outcome))
})

test('a second stop signal during the drain exits at once with 1', async (t) => {
  const hanging = await slowBackend(t)
  const { lb, url } = await startFulcrum(t, [hanging.backend.address], 'drainTimeout: 30s\n')
  const inFlight = get(`${url}/slow`).catch((err: Error) => err)
  await hanging.slowArrived()
  lb.signal('SIGTERM')
  await lb.waitForOutput('stopping')
  lb.signal('SIGINT')
  assert.deepEqual(await lb.waitForExit(3_000), { code: 1, signal: null }, lb.output)
  assert.match(lb.stdout, /second stop signal/)
  assert.ok((await inFlight) instanceof Error)
})
