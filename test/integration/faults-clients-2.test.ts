/**
 * The client-side fault suite, part 2: what a client sends rather than how long it holds on. Pipelined
 * requests (answered in order; nothing behind a refused one goes on), a chunked body past maxBodyBytes,
 * request targets that are not a path (a NUL, absolute-form, "*", CONNECT's authority) and request lines
 * of other HTTP versions. For each: what the client sees, that no target sees more than it may, and that
 * the balancer keeps serving with its fds and heap back at their baseline. Part 1 is faults-clients.test.ts.
 * The size refusals and framing attacks of protection-requests.test.ts are not repeated here.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { readFileSync } from 'node:fs'
import type { ConfigInput } from '../../src/config/schema.ts'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'
import { assertBackToBaseline, baseline } from '../helpers/baseline.ts'
import { TestCerts } from '../helpers/certs.ts'
import { until } from '../helpers/process.ts'
import { parseResponses, plainGet, rawExchange, statusLine } from '../helpers/raw-client.ts'

/** What a target saw of one request. */
interface Seen { readonly name: string; readonly method: string; readonly url: string; readonly host: string; bytes: number; ended: boolean; closed: boolean }

/**
 * Echo targets: each answers "NAME METHOD URL BYTES" once the body ended, after ?delay=MS if asked;
 * `/early` answers 200 with its headers at once and waits for the body.
 */
async function echoTargets(t: TestContext, names: readonly string[]) {
  const seen: Seen[] = []
  const backends = await Promise.all(names.map((name) => new Backend((req, res) => {
    const s: Seen = { name, method: req.method as string, url: req.url as string, host: req.headers.host ?? '', bytes: 0, ended: false, closed: false }
    seen.push(s)
    if (req.url === '/early') res.writeHead(200, { 'content-length': 1_000 }).write('early')
    req.on('data', (c: Buffer) => { s.bytes += c.length })
    req.on('close', () => { s.closed = true })
    req.on('end', () => {
      s.ended = true
      const delay = Number(new URL(req.url as string, 'http://x').searchParams.get('delay') ?? 0)
      setTimeout(() => res.end(`${name} ${req.method} ${req.url} ${s.bytes}`), delay)
    })
  }).start()))
  t.after(() => Promise.all(backends.map((b) => b.close())))
  return { backends, seen }
}

/** One listener forwarding everything to `app` (one echo target, "app"), warmed up, and the baseline. */
async function setup(t: TestContext, listener: Record<string, unknown> = {}) {
  const { backends: [backend], seen } = await echoTargets(t, ['app'])
  const lb = await startBalancer(t, {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }], ...listener }],
    targetGroups: { app: { targets: [backend.address], timeouts: { keepAlive: '300ms' } } },
  } as ConfigInput)
  const port = lb.port()
  assert.equal((await plainGet(port, '/warm')).body, 'app GET /warm 0')
  return { backend, seen, port, base: await baseline() }
}

const HOST = 'host: fulcrum.test\r\n'

test('pipelining: three requests on one socket get three answers in order, each its own, however slow the first', async (t) => {
  const { seen, port, base } = await setup(t)
  // The first is answered last by the target: the balancer must still send the answers in order.
  const reply = await rawExchange(port, `GET /a?delay=200 HTTP/1.1\r\n${HOST}\r\n`
    + `POST /b?delay=100 HTTP/1.1\r\n${HOST}content-length: 5\r\n\r\nhello`
    + `GET /c HTTP/1.1\r\n${HOST}connection: close\r\n\r\n`, { ms: 3_000 })
  assert.deepEqual(parseResponses(reply.text).map((r) => [r.status, r.body]),
    [[200, 'app GET /a?delay=200 0'], [200, 'app POST /b?delay=100 5'], [200, 'app GET /c 0']])
  assert.ok(reply.closed, 'closed after the answer to Connection: close')
  assert.deepEqual(seen.map((s) => s.url).sort(), ['/a?delay=200', '/b?delay=100', '/c', '/warm'])
  await assertBackToBaseline(t, base, 'pipelining')
})

test('pipelining behind a refused request: one answer, the connection closes, and the next request never reaches a target', async (t) => {
  const { seen, port } = await setup(t, { limits: { maxUriBytes: 100, maxBodyBytes: 10 } })
  const refused: Array<[what: string, request: string, status: number]> = [
    ['a long URI', `GET /${'a'.repeat(200)} HTTP/1.1\r\n${HOST}\r\n`, 414],
    ['two Host fields', `GET / HTTP/1.1\r\n${HOST}host: other.test\r\n\r\n`, 400],
    ['a coding other than chunked', `POST / HTTP/1.1\r\n${HOST}transfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 501],
    ['a Content-Length over maxBodyBytes', `POST / HTTP/1.1\r\n${HOST}content-length: 20\r\n\r\n${'x'.repeat(20)}`, 413],
  ]
  const leaks: string[] = []
  for (const [i, [what, request, status]] of refused.entries()) {
    // The pool holds a connection to the target (warm-up, or the previous round): a request let through
    // would reach the target at once, before the client has even read the refusal.
    const reply = await rawExchange(port, `${request}POST /second/${i} HTTP/1.1\r\n${HOST}content-length: 4\r\n\r\nboom`)
    assert.equal(statusLine(reply.text).slice(9, 12), String(status), what)
    assert.ok(reply.closed, `${what}: the connection is closed`)
    assert.equal(reply.text.match(/HTTP\/1\.1 /g)?.length, 1, `${what}: one answer only`)
    // The next request on a new connection is answered once everything before it reached the target.
    assert.equal((await plainGet(port, `/after/${i}`)).body, `app GET /after/${i} 0`)
    for (const s of seen) if (s.url === `/second/${i}`) leaks.push(`${what}: the target got ${s.method} ${s.url} (${s.bytes} bytes)`)
  }
  assert.deepEqual(leaks, [], 'a request behind a refused one was forwarded though its connection was closing')
})

test('a chunked body growing past maxBodyBytes: 413 when nothing was answered yet, else a cut answer; the target never gets more', async (t) => {
  const limit = 4 * 1024
  const { seen, port, base } = await setup(t, { limits: { maxBodyBytes: limit } })
  const chunk = `400\r\n${'c'.repeat(1024)}\r\n`
  const head = (path: string): string => `POST ${path} HTTP/1.1\r\n${HOST}transfer-encoding: chunked\r\n\r\n`
  // Ten 1 KiB chunks, 10 ms apart: the body passes the limit while it streams.
  const r = await rawExchange(port, [head('/upload'), ...Array.from({ length: 10 }, () => chunk), '0\r\n\r\n'], { gapMs: 10, ms: 3_000 })
  assert.deepEqual(parseResponses(r.text).map((x) => [x.status, x.body]), [[413, '413 Payload Too Large\n']])
  assert.ok(r.closed, 'the connection is closed after the 413')

  // The target answers before reading the body: past the limit, the client's answer is cut.
  let early = ''
  const socket: Socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write(head('/early') + chunk)
  socket.on('data', (d: Buffer) => {
    if (early === '' && d.includes('\r\n\r\n')) for (let i = 0; i < 8; i++) socket.write(chunk)
    early += d.toString('latin1')
  })
  const timer = setTimeout(() => socket.destroy(), 3_000)
  await new Promise((resolve) => socket.once('close', resolve))
  clearTimeout(timer)
  assert.equal(statusLine(early), 'HTTP/1.1 200 OK', 'the target\'s answer had started')
  assert.deepEqual(parseResponses(early), [], `the answer must be cut, not complete: ${JSON.stringify(early)}`)

  await until(() => seen.filter((s) => s.url !== '/warm').every((s) => s.closed), 2_000, 'the targets\' requests to close')
  for (const s of seen.filter((x) => x.url !== '/warm')) {
    assert.ok(s.bytes <= limit, `${s.url}: the target got ${s.bytes} bytes, over ${limit}`)
    assert.equal(s.ended, false, `${s.url}: the target must see the body cut, not a complete (truncated) one`)
  }
  await assertBackToBaseline(t, base, 'chunked body over the limit')
  assert.equal((await plainGet(port, '/after')).body, 'app GET /after 0')
})

test('a NUL byte in the request target: 400, closed, nothing forwarded (encoded too, where locations are used)', async (t) => {
  const { seen, port } = await setup(t, { name: 'routes' })
  const { backends: [vhTarget] } = await echoTargets(t, ['vh'])
  const vh = await startBalancer(t, {
    listeners: [{ name: 'vh', protocol: 'http', listen: '127.0.0.1:0',
      virtualHosts: [{ names: ['fulcrum.test'], locations: [{ location: '/', forward: 'vh' }] }] }],
    targetGroups: { vh: { targets: [vhTarget.address] } },
  } as ConfigInput)
  for (const [p, request] of [[port, 'GET /a\x00b'], [vh.port(), 'GET /a\x00b'], [vh.port(), 'GET /a%00b']] as const) {
    const r = await rawExchange(p, `${request} HTTP/1.1\r\n${HOST}\r\n`)
    assert.equal(statusLine(r.text), 'HTTP/1.1 400 Bad Request', JSON.stringify(request))
    assert.ok(r.closed, JSON.stringify(request))
  }
  assert.deepEqual(seen.map((s) => s.url), ['/warm'])
  assert.equal(vhTarget.count, 0)
})

test('absolute-form request targets: routed by the URL\'s own host and path (or refused), never passed on as they came', async (t) => {
  const { backends: [admin, pub], seen } = await echoTargets(t, ['admin', 'public'])
  const lb = await startBalancer(t, {
    listeners: [
      { name: 'routes', protocol: 'http', listen: '127.0.0.1:0', routes: [
        { match: { path: '/admin' }, respond: { status: 403, body: 'no admin here\n' } },
        { match: { host: 'admin.example' }, forward: 'admin' },
        { forward: 'public' }] },
      { name: 'vhosts', protocol: 'http', listen: '127.0.0.1:0', virtualHosts: [
        { names: ['public.example'], default: true, locations: [{ location: '/', forward: 'public' }, { location: '/admin', respond: { status: 403, body: 'no\n' } }] },
        { names: ['admin.example'], locations: [{ location: '/', forward: 'admin' }] }] },
    ],
    targetGroups: { admin: { targets: [admin.address] }, public: { targets: [pub.address] } },
  } as ConfigInput)
  const problems: string[] = []
  for (const listener of ['routes', 'vhosts']) {
    const ask = async (target: string, host: string): Promise<{ status: number; body: string; got: Seen | undefined }> => {
      const before = seen.length
      const r = await rawExchange(lb.port(listener), `GET ${target} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`)
      const [answer] = parseResponses(r.text)
      return { status: answer?.status ?? 0, body: answer?.body ?? '', got: seen[before] }
    }
    // RFC 9112 §3.2.2: the host of an absolute-form target replaces Host. nginx routes by it and passes
    // the target on in origin-form; a 400 would be safe too. Passing "http://…" on would let the target
    // read another host (and path) than the one the balancer routed by.
    const denied = await ask('http://public.example/admin/x', 'public.example')
    if (denied.status !== 403 && denied.status !== 400) {
      problems.push(`${listener}: GET http://public.example/admin/x skipped the /admin rule: ${denied.status} from ${denied.got?.name} with ${denied.got?.url}`)
    }
    for (const [target, host, want] of [['http://admin.example/x', 'public.example', 'admin'], ['http://public.example/y', 'admin.example', 'public']]) {
      const a = await ask(target, host)
      if (a.status === 400) continue
      const path = new URL(target).pathname
      if (a.got?.name !== want || a.got.url !== path || a.got.host !== new URL(target).host) {
        problems.push(`${listener}: GET ${target} with Host ${host} reached ${a.got?.name} as ${a.got?.url} (Host ${a.got?.host}); want ${want} with ${path} (Host ${new URL(target).host}) or a 400`)
      }
    }
  }
  assert.deepEqual(problems, [])
})

test('CONNECT is refused and never tunnelled: nothing, not even the bytes after it, reaches a target', async (t) => {
  const { backend, seen, port, base } = await setup(t)
  const connections = backend.connections
  for (const authority of [backend.address, 'evil.example:443']) {
    const r = await rawExchange(port, `CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\nGET /tunnelled HTTP/1.1\r\n${HOST}\r\n`)
    assert.ok(r.closed, `CONNECT ${authority}: the connection is closed`)
    assert.ok(r.text === '' || /^HTTP\/1\.1 4\d\d /.test(r.text), `CONNECT ${authority}: ${JSON.stringify(r.text)}`)
  }
  assert.equal((await plainGet(port, '/after')).body, 'app GET /after 0')
  assert.deepEqual(seen.map((s) => s.url), ['/warm', '/after'])
  assert.ok(backend.connections <= connections + 1, 'no connection was opened to tunnel (one for /after at most)')
  await assertBackToBaseline(t, base, 'CONNECT')
})

test('"*" as the request target (OPTIONS *) is answered by the balancer and never counted against the targets', async (t) => {
  const { backends, seen } = await echoTargets(t, ['one', 'two'])
  const lb = await startBalancer(t, {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }] }],
    targetGroups: { app: { targets: backends.map((b) => b.address) } }, // passive health on, as by default
  } as ConfigInput)
  const problems: string[] = []
  for (const line of ['OPTIONS * HTTP/1.1', 'GET * HTTP/1.1']) {
    const r = await rawExchange(lb.port(), `${line}\r\n${HOST}connection: close\r\n\r\n`)
    const status = parseResponses(r.text)[0]?.status ?? 0
    if (status === 0 || status >= 500) problems.push(`${line}: ${JSON.stringify(statusLine(r.text))}`)
  }
  // Both targets are as healthy as before: the next requests are answered by them.
  for (const path of ['/after/1', '/after/2']) {
    const a = await plainGet(lb.port(), path)
    if (a.status !== 200) problems.push(`then GET ${path}: ${a.status} ${JSON.stringify(a.body)}`)
  }
  assert.deepEqual(problems, [], 'answered by the balancer (nginx: 400), not a failure of the targets')
  assert.deepEqual(seen.map((s) => s.url).sort(), ['/after/1', '/after/2'])
})

test('request lines of other versions: HTTP/1.2, HTTP/3.0, lower case refused; HTTP/2.0 and HTTP/0.9 refused or answered once', async (t) => {
  const { seen, port, base } = await setup(t)
  for (const line of ['GET / HTTP/1.2', 'GET / HTTP/3.0', 'GET / http/1.1', 'GET / HTTP/1.10']) {
    const r = await rawExchange(port, `${line}\r\n${HOST}\r\nGET /behind HTTP/1.1\r\n${HOST}\r\n`)
    assert.equal(statusLine(r.text), 'HTTP/1.1 400 Bad Request', line)
    assert.ok(r.closed, line)
  }
  // Node's parser takes these; nginx answers HTTP/2.0 with 505 and HTTP/0.9 with a bare body. Either
  // refused, or one HTTP/1.1 answer from a target that was sent HTTP/1.1, and the connection closed.
  for (const [line, path] of [['GET /v20 HTTP/2.0', '/v20'], ['GET /v09 HTTP/0.9', '/v09'], ['GET /v09-bare', '/v09-bare']]) {
    const before = seen.length
    const r = await rawExchange(port, `${line}\r\n${line.endsWith('bare') ? '' : HOST}\r\n`)
    assert.ok(r.closed, line)
    const answers = parseResponses(r.text)
    if (answers.length === 1 && answers[0].status === 200) {
      assert.equal(answers[0].body, `app GET ${path} 0`, line)
      assert.equal(seen.length, before + 1, line)
    } else {
      assert.match(statusLine(r.text), /^HTTP\/1\.1 (400|505) /, line)
      assert.equal(seen.length, before, `${line}: refused, yet forwarded`)
    }
  }
  assert.ok(!seen.some((s) => s.url === '/behind'))
  await assertBackToBaseline(t, base, 'request line versions')
  assert.equal((await plainGet(port, '/after')).body, 'app GET /after 0')
})

test('https: a request line saying HTTP/2.0 over TLS HTTP/1.1 is handled as over plain HTTP, not taken for an HTTP/2 stream', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  const leaf = certs.leaf('site', ['site.test'])
  const { backends: [backend], seen } = await echoTargets(t, ['app'])
  for (const http2 of [false, true]) {
    const lb = await startBalancer(t, {
      listeners: [{ name: 'secure', protocol: 'https', listen: '127.0.0.1:0', http2, tls: { certificates: [leaf] }, routes: [{ forward: 'app' }] }],
      targetGroups: { app: { targets: [backend.address] } },
    } as ConfigInput)
    const ask = (line: string): Promise<{ text: string; closed: boolean }> => new Promise((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: lb.port(), servername: 'site.test', ca: readFileSync(certs.ca), ALPNProtocols: ['http/1.1'] })
      let text = ''
      let closed = true
      const timer = setTimeout(() => { closed = false; s.destroy() }, 2_000)
      s.on('data', (d: Buffer) => { text += d.toString('latin1') })
      s.on('error', () => {})
      s.on('close', () => { clearTimeout(timer); resolve({ text, closed }) })
      s.on('secureConnect', () => s.write(`${line}\r\nhost: site.test\r\nconnection: close\r\n\r\n`))
    })
    const before = seen.length
    // As over plain HTTP (previous test): refused, or one HTTP/1.1 answer; never a hang or a thrown error.
    const v2 = await ask('GET /v20 HTTP/2.0')
    assert.ok(v2.closed, `http2 ${http2}: the connection was left open, unanswered: ${JSON.stringify(v2.text)}`)
    const [answer] = parseResponses(v2.text)
    if (answer?.status === 200) assert.equal(answer.body, 'app GET /v20 0', `http2 ${http2}`)
    else {
      assert.match(statusLine(v2.text), /^HTTP\/1\.1 (400|505) /, `http2 ${http2}: ${JSON.stringify(v2.text)}`)
      assert.equal(seen.length, before, `http2 ${http2}: refused, yet forwarded`)
    }
    const ok = await ask('GET /fine HTTP/1.1')
    assert.equal(parseResponses(ok.text)[0]?.body, 'app GET /fine 0', `http2 ${http2}`)
  }
})
