/**
 * Who gets in: rate limits (nginx limit_req), connection limits (limit_conn), allow/deny lists, trusted
 * proxies, and the process's connection cap. Clients differ by source address (127.0.0.x).
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import type { ConfigInput } from '../../src/config/schema.ts'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'

interface Answer { status: number; body: string; headers: Record<string, string | string[] | undefined> }

/** One request on a new connection, from `from` (a 127.0.0.x address). */
function get(port: number, path = '/', options: { from?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, localAddress: options.from, agent: false, headers: options.headers }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function setup(t: TestContext, listener: Record<string, unknown>, handler?: ConstructorParameters<typeof Backend>[0]) {
  const backend = new Backend(handler ?? ((req, res) => {
    req.resume()
    res.end(`xff=${req.headers['x-forwarded-for']} real=${req.headers['x-real-ip']}`)
  }))
  await backend.start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }], ...listener }],
    targetGroups: { app: { targets: [backend.address] } },
  } as ConfigInput)
  return { backend, port: lb.port('web'), lb }
}

test('rate limit: a burst is refused past burst with 429 and Retry-After; clients have separate buckets', async (t) => {
  const { port, backend } = await setup(t, { rateLimit: { rate: '1r/s', burst: 2, nodelay: true } })
  const statuses: number[] = []
  let refused: Answer | undefined
  for (let i = 0; i < 5; i++) {
    const a = await get(port)
    statuses.push(a.status)
    if (a.status === 429) refused = a
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429])
  assert.equal(refused?.headers['retry-after'], '1')
  assert.equal((await get(port, '/', { from: '127.0.0.2' })).status, 200, 'another client has its own bucket')
  assert.equal(backend.count, 4)
})

test('rate limit: without nodelay the burst is spaced at the rate (nginx delays, then serves)', async (t) => {
  const { port } = await setup(t, { rateLimit: { rate: '10r/s', burst: 2 } })
  const started = Date.now()
  const answers = await Promise.all([0, 1, 2].map(() => get(port)))
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200])
  // The third waited for two requests' worth of the rate (2 x 100 ms); a loose bound, not a benchmark.
  assert.ok(Date.now() - started >= 150, `served after ${Date.now() - started}ms`)
})

test('rate limit by header, on a route, overriding the listener\'s; status as configured', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0', rateLimit: { rate: '1r/m' },
      routes: [
        { match: { path: '/api/' }, forward: 'app', rateLimit: { rate: '1r/m', burst: 1, nodelay: true, key: 'header:x-api-key', status: 503 } },
        { forward: 'app' },
      ],
    }],
    targetGroups: { app: { targets: [backend.address] } },
  } as ConfigInput)
  const port = lb.port('web')
  const key = (k: string) => ({ headers: { 'x-api-key': k } })
  assert.deepEqual([(await get(port, '/api/1', key('a'))).status, (await get(port, '/api/2', key('a'))).status, (await get(port, '/api/3', key('a'))).status], [200, 200, 503])
  assert.equal((await get(port, '/api/4', key('b'))).status, 200)
  assert.equal((await get(port, '/api/5')).status, 200, 'no key: not limited (as nginx with an empty key)')
  assert.deepEqual([(await get(port, '/other')).status, (await get(port, '/other')).status], [200, 429], 'the listener\'s limit elsewhere')
})

test('connection limits: requests in progress per client, and in all (limit_conn), answered 503', async (t) => {
  const held: Array<() => void> = []
  const { port } = await setup(t, { connectionLimits: { perClient: 2, total: 3 } }, (req, res) => {
    req.resume()
    held.push(() => res.end('done'))
  })
  const first = [get(port), get(port)]
  await until(() => held.length === 2)
  assert.equal((await get(port)).status, 503, 'a third request of the same client')
  const other = get(port, '/', { from: '127.0.0.2' })
  await until(() => held.length === 3)
  assert.equal((await get(port, '/', { from: '127.0.0.3' })).status, 503, 'a fourth in all')
  for (const release of held) release()
  assert.deepEqual((await Promise.all([...first, other])).map((a) => a.status), [200, 200, 200])
  held.length = 0
  const after = get(port)
  await until(() => held.length === 1)
  held[0]()
  assert.equal((await after).status, 200, 'finished requests are counted out')
})

test('allow/deny lists: the security group of the seeds, on the listener and per route', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0', allow: ['127.0.0.0/24', '::1'], deny: ['127.0.0.66'],
      routes: [{ match: { path: '/admin' }, allow: ['127.0.0.1'], forward: 'app' }, { forward: 'app' }],
    }],
    targetGroups: { app: { targets: [backend.address] } },
  } as ConfigInput)
  const port = lb.port('web')
  assert.equal((await get(port, '/', { from: '127.0.0.5' })).status, 200)
  assert.equal((await get(port, '/', { from: '127.0.0.66' })).status, 403)
  assert.equal((await get(port, '/', { from: '127.0.1.5' })).status, 403)
  assert.equal((await get(port, '/admin', { from: '127.0.0.1' })).status, 200)
  assert.equal((await get(port, '/admin', { from: '127.0.0.5' })).status, 403)
})

test('trusted proxies: X-Forwarded-For is believed from them only; replaceForwardedFor drops what others sent', async (t) => {
  const trusted = await setup(t, { trustedProxies: ['127.0.0.1'], allow: ['203.0.113.0/24', '127.0.0.2'] })
  const via = await get(trusted.port, '/', { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.5' } })
  assert.equal(via.body, 'xff=198.51.100.1, 203.0.113.5, 127.0.0.1 real=203.0.113.5', 'the client behind the proxy; allow applied to it')
  assert.equal((await get(trusted.port, '/', { headers: { 'x-forwarded-for': '198.51.100.1' } })).status, 403, 'allow sees the real client')
  const direct = await get(trusted.port, '/', { from: '127.0.0.2', headers: { 'x-forwarded-for': '203.0.113.5' } })
  assert.equal(direct.body, 'xff=203.0.113.5, 127.0.0.2 real=127.0.0.2', 'an untrusted peer is the client, whatever it wrote')
  const replacing = await setup(t, { trustedProxies: ['10.0.0.0/8'], replaceForwardedFor: true })
  assert.equal((await get(replacing.port, '/', { headers: { 'x-forwarded-for': '6.6.6.6' } })).body, 'xff=127.0.0.1 real=127.0.0.1')
})

test('maxConnections: past the process-wide cap a new connection is closed at once', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, {
    maxConnections: 2,
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }] }],
    targetGroups: { app: { targets: [backend.address] } },
  } as ConfigInput)
  const port = lb.port('web')
  const open = await Promise.all([0, 1].map(() => new Promise<import('node:net').Socket>((resolve) => { const s = connect(port, '127.0.0.1', () => resolve(s)) })))
  t.after(() => { for (const s of open) s.destroy() })
  const third = await new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'))
    let text = ''
    s.on('data', (d: Buffer) => { text += d.toString() })
    s.on('close', () => resolve(text))
    s.on('error', () => {})
  })
  assert.equal(third, '', 'closed unanswered')
  for (const s of open) s.destroy()
  await until(() => false, 100).catch(() => {})
  assert.equal((await get(port)).status, 200, 'room again once the others closed')
})

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
}
