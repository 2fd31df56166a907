/**
 * Retries as nginx's proxy_next_upstream, and what the client gets when no target can answer: 502, 503,
 * 504 with a short body, never a hang.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'

/** An address where nothing listens: bind a port, then free it. */
async function deadAddress(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return `127.0.0.1:${port}`
}

async function call(url: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const res = await request(url, { method: (opts.method ?? 'GET') as 'GET', body: opts.body, headers: opts.headers })
  return { status: res.statusCode, body: await res.body.text() }
}

const ok = (name: string) => new Backend((req, res) => { req.resume(); res.end(name) })
/** Reads the request, then drops the connection without answering. */
const resetting = () => new Backend((req, res) => { req.resume(); req.on('end', () => res.socket?.destroy()) })
const status = (code: number) => new Backend((req, res) => { req.resume(); res.writeHead(code); res.end(`status ${code}`) })

test('a refused connection moves a GET to the next target, and the dead target is skipped after', async (t) => {
  const dead = await deadAddress()
  const good = await ok('good').start()
  t.after(() => good.close())
  const lb = await startBalancer(t, simpleConfig([dead, good.address]))
  for (let i = 0; i < 6; i++) assert.deepEqual(await call(lb.url()), { status: 200, body: 'good' })
  assert.equal(good.count, 6)
})

test('a POST that reached a target is not retried; with Idempotency-Key or nonIdempotent it is', async (t) => {
  const bad = await resetting().start()
  const good = await ok('good').start()
  t.after(() => Promise.all([bad.close(), good.close()]))
  const group = { algorithm: 'round-robin', passive: { maxFails: 0 } }
  const lb = await startBalancer(t, simpleConfig([bad.address, good.address], group))
  assert.equal((await call(lb.url(), { method: 'POST', body: 'x' })).status, 502)
  assert.equal(good.count, 0, 'the POST must not be sent twice')
  await call(lb.url()) // round robin now points at `bad` again
  const withKey = await call(lb.url(), { method: 'POST', body: 'x', headers: { 'idempotency-key': 'k1' } })
  assert.deepEqual(withKey, { status: 200, body: 'good' })

  const lb2 = await startBalancer(t, simpleConfig([bad.address, good.address], { ...group, retries: { nonIdempotent: true } }))
  assert.deepEqual(await call(lb2.url(), { method: 'POST', body: 'x' }), { status: 200, body: 'good' })
})

test('a POST whose first target refused the connection is retried with its body intact', async (t) => {
  const dead = await deadAddress()
  const echo = await new Backend(async (req, res) => {
    let body = ''
    for await (const c of req) body += c
    res.end(`echo ${body}`)
  }).start()
  t.after(() => echo.close())
  const lb = await startBalancer(t, simpleConfig([dead, echo.address]))
  assert.deepEqual(await call(lb.url(), { method: 'POST', body: 'payload' }), { status: 200, body: 'echo payload' })
})

test('listed statuses are retried; unlisted ones pass through; the last answer is the client\'s', async (t) => {
  const unavailable = await status(503).start()
  const good = await ok('good').start()
  t.after(() => Promise.all([unavailable.close(), good.close()]))
  const lb = await startBalancer(t, simpleConfig([unavailable.address, good.address], { retries: { on: ['error', 'http_503'] } }))
  assert.deepEqual(await call(lb.url()), { status: 200, body: 'good' })
  const plain = await startBalancer(t, simpleConfig([unavailable.address, good.address], { passive: { maxFails: 0 } }))
  assert.deepEqual(await call(plain.url()), { status: 503, body: 'status 503' })
  const alone = await startBalancer(t, simpleConfig([unavailable.address], { retries: { on: ['http_503'] } }))
  assert.deepEqual(await call(alone.url()), { status: 503, body: 'status 503' })
})

test('tries caps attempts, and a retry never repeats a target that failed this request', async (t) => {
  const failing = await Promise.all([status(502).start(), status(502).start(), status(502).start()])
  t.after(() => Promise.all(failing.map((b) => b.close())))
  const addresses = failing.map((b) => b.address)
  const lb = await startBalancer(t, simpleConfig(addresses, { retries: { tries: 2, on: ['http_502'] }, passive: { maxFails: 0 } }))
  assert.equal((await call(lb.url())).status, 502)
  assert.deepEqual(failing.map((b) => b.count), [1, 1, 0])
  const all = await startBalancer(t, simpleConfig(addresses, { retries: { tries: 10, on: ['http_502'] }, passive: { maxFails: 0 } }))
  assert.equal((await call(all.url())).status, 502)
  assert.deepEqual(failing.map((b) => b.count), [2, 2, 1], 'each target once, then the last answer is passed on')
})

test('a response-header timeout answers 504; the retry timeout bounds all attempts together', async (t) => {
  const hanging = await Promise.all([0, 1, 2].map(() => new Backend((req) => { req.resume() }).start()))
  t.after(() => Promise.all(hanging.map((b) => b.close())))
  const addresses = hanging.map((b) => b.address)
  const each = await startBalancer(t, simpleConfig(addresses, {
    timeouts: { responseHeader: '100ms' }, retries: { tries: 3 }, passive: { maxFails: 0 },
  }))
  assert.deepEqual(await call(each.url()), { status: 504, body: '504 Gateway Timeout\n' })
  assert.deepEqual(hanging.map((b) => b.count), [1, 1, 1], 'a timeout moves the request on, up to tries')
  // The first attempt alone outlasts the retry timeout, so no second attempt starts.
  const bounded = await startBalancer(t, simpleConfig(addresses, {
    timeouts: { responseHeader: '300ms' }, retries: { tries: 3, timeout: '100ms' }, passive: { maxFails: 0 },
  }))
  assert.equal((await call(bounded.url())).status, 504)
  assert.deepEqual(hanging.map((b) => b.count), [2, 1, 1])
})

test('the retry budget stops retries from multiplying load when the whole group fails', async (t) => {
  const failing = await Promise.all([status(503).start(), status(503).start()])
  t.after(() => Promise.all(failing.map((b) => b.close())))
  const lb = await startBalancer(t, simpleConfig(failing.map((b) => b.address), {
    retries: { tries: 2, on: ['http_503'], budget: { ratio: 0.1, minPerSecond: 0 } }, passive: { maxFails: 0 },
  }))
  for (let i = 0; i < 100; i++) assert.equal((await call(lb.url())).status, 503)
  const attempts = failing[0].count + failing[1].count
  assert.ok(attempts >= 105 && attempts <= 111, `100 requests made ${attempts} attempts; the budget allows ~10 retries`)
})

test('no target: 503; every target refused: 502; all at maxConns: 503', async (t) => {
  const empty = await startBalancer(t, simpleConfig([]))
  assert.deepEqual(await call(empty.url()), { status: 503, body: '503 Service Unavailable\n' })
  const dead = await startBalancer(t, simpleConfig([await deadAddress(), await deadAddress()]))
  assert.deepEqual(await call(dead.url()), { status: 502, body: '502 Bad Gateway\n' })

  let release: () => void = () => {}
  const held = new Promise<void>((r) => { release = r })
  const slow = await new Backend(async (req, res) => { req.resume(); await held; res.end('slow') }).start()
  t.after(() => { release(); return slow.close() })
  const capped = await startBalancer(t, simpleConfig([{ address: slow.address, maxConns: 1 }] as unknown as string[]))
  const first = call(capped.url())
  while (slow.count === 0) await new Promise((r) => setTimeout(r, 5))
  assert.equal((await call(capped.url())).status, 503)
  release()
  assert.deepEqual(await first, { status: 200, body: 'slow' })
})

test('backup targets serve only when every primary is down', async (t) => {
  const primary = await ok('primary').start()
  const backup = await ok('backup').start()
  t.after(() => Promise.all([primary.close(), backup.close()]))
  const lb = await startBalancer(t, simpleConfig([primary.address, { address: backup.address, backup: true }] as unknown as string[]))
  for (let i = 0; i < 4; i++) assert.equal((await call(lb.url())).body, 'primary')
  await primary.kill()
  for (let i = 0; i < 4; i++) assert.equal((await call(lb.url())).body, 'backup')
})
