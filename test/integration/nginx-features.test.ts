/**
 * The data-plane features an nginx.conf translates to, through a live listener with real backends and
 * clients: virtual hosts (server_name) and locations, proxy options (proxy_set_header, proxy_pass URI
 * part), addHeaders, templates in answers, access rules, body limits, template hash keys and nginx pages.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'
import type { ConfigInput } from '../../src/config/schema.ts'

/** Sends raw bytes and returns everything the server sent until it closed the connection. */
async function raw(port: number, text: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(text)
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  await once(socket, 'close')
  return Buffer.concat(chunks).toString('latin1')
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  const res = await request(url, { method: method as 'GET', headers, body })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

const echo = (name: string) => new Backend((req, res) => { req.resume(); res.end(`${name} ${req.url}`) }).start()

test('virtual hosts: nginx server_name order, then the default server', async (t) => {
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0',
      virtualHosts: [
        { names: ['first.test'], locations: [{ location: '/', respond: { body: 'first' } }] },
        { names: ['example.com', 'www.example.com'], locations: [{ location: '/', respond: { body: 'exact $host $server_name' } }] },
        { names: ['*.example.com'], locations: [{ location: '/', respond: { body: 'head' } }] },
        { names: ['www.example.*'], locations: [{ location: '/', respond: { body: 'tail' } }] },
        { names: ['~^api\\d+\\.example\\.org$'], locations: [{ location: '/', respond: { body: 'regex' } }] },
        { names: ['fallback.test'], default: true, locations: [{ location: '/', respond: { body: 'default' } }] },
      ],
    }],
  })
  const body = async (host: string) => (await get(`${lb.url()}/`, { host })).body
  assert.equal(await body('Example.COM:81'), 'exact example.com example.com')
  assert.equal(await body('www.example.com'), 'exact www.example.com example.com')
  assert.equal(await body('a.b.example.com'), 'head')
  assert.equal(await body('www.example.org'), 'tail')
  assert.equal(await body('api42.example.org'), 'regex')
  assert.equal(await body('nobody.test'), 'default')
  assert.equal(await body('first.test'), 'first')
  const bad = await raw(lb.port(), 'GET / HTTP/1.1\r\nHost: a..b\r\n\r\n')
  assert.match(bad, /^HTTP\/1\.1 400 /, 'nginx refuses a Host with ".."')
})

test('locations: the nginx documentation example, on normalised URIs; nested; auto redirect; 400 above root', async (t) => {
  const app = await echo('app')
  t.after(() => app.close())
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0',
      virtualHosts: [{
        names: ['example.com'],
        locations: [
          { location: '= /', respond: { body: 'A' } },
          { location: '/', respond: { body: 'B' } },
          { location: '/documents/', respond: { body: 'C' } },
          { location: '^~ /images/', respond: { body: 'D' } },
          { location: '~* \\.(gif|jpg|jpeg)$', respond: { body: 'E' } },
          {
            location: '/api/', forward: 'app',
            locations: [{ location: '~ \\.json$', respond: { body: 'api-json $uri' } }],
          },
        ],
      }],
    }],
    targetGroups: { app: { targets: [app.address] } },
  })
  const body = async (path: string) => (await get(`${lb.url()}${path}`)).body
  assert.equal(await body('/'), 'A')
  assert.equal(await body('/index.html'), 'B')
  assert.equal(await body('/documents/document.html'), 'C')
  assert.equal(await body('/images/1.gif'), 'D')
  assert.equal(await body('/documents/1.jpg'), 'E')
  assert.equal(await body('/x/../documents/%64oc.html'), 'C', 'matched after decoding and resolving dots')
  assert.equal(await body('/api/x.json'), 'api-json /api/x.json', 'regex nested in /api/ before the outer ~*')
  const asSent = await raw(lb.port(), 'GET /api/a/../b?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n')
  assert.ok(asSent.endsWith('app /api/a/../b?q=1'), 'without replacePrefix the target gets the URI as sent')
  const redirect = await get(`${lb.url()}/api?x=1`, { host: 'Example.com' })
  assert.equal(redirect.status, 301, 'a forwarding "/api/" location redirects "/api"')
  assert.equal(redirect.headers.location, `http://example.com:${lb.port()}/api/?x=1`)
  assert.match(await raw(lb.port(), 'GET /../etc/passwd HTTP/1.1\r\nHost: example.com\r\n\r\n'), /^HTTP\/1\.1 400 /)
})

test('proxy.setHeaders speaks nginx: only what is set, Host $proxy_host, empty values dropped, client headers after', async (t) => {
  const app = await echo('app')
  t.after(() => app.close())
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0',
      virtualHosts: [{
        names: ['example.com'],
        locations: [
          {
            location: '/set/', forward: 'app',
            proxy: {
              host: 'backend',
              setHeaders: {
                'X-Real-IP': '$remote_addr', 'X-Forwarded-For': '$proxy_add_x_forwarded_for', 'X-Empty': '$http_x_none',
                'X-Uri': '$uri|$args|$request_method|$scheme|$server_port', Connection: '',
              },
            },
          },
          { location: '/host/', forward: 'app', proxy: { setHeaders: { Host: '$host' } } },
          { location: '/bare/', forward: 'app', proxy: { setHeaders: {}, passRequestHeaders: false } },
          { location: '/api/', forward: 'app', proxy: { setHeaders: {}, replacePrefix: { prefix: '/api/', with: '/v1/' } } },
        ],
      }],
    }],
    targetGroups: { app: { targets: [app.address] } },
  })
  await get(`${lb.url()}/set/a?b=1`, { host: 'example.com', 'x-forwarded-for': '203.0.113.1', foo: 'bar', 'x-request-id': 'r1' })
  const set = app.received[0]
  // undici writes Host (and its Connection) first; after them come the set headers in order, then the client's.
  assert.deepEqual(pairs(set.rawHeaders).slice(0, 6), [
    ['host', 'backend'],
    ['connection', 'keep-alive'],
    ['X-Real-IP', '127.0.0.1'],
    ['X-Forwarded-For', '203.0.113.1, 127.0.0.1'],
    ['X-Uri', `/set/a|b=1|GET|http|${lb.port()}`],
    ['foo', 'bar'],
  ])
  assert.equal(set.headers['x-empty'], undefined, 'a header whose value is empty is not sent')
  assert.equal(set.headers.foo, 'bar', 'client headers follow')
  assert.equal(set.headers['x-request-id'], 'r1', 'the client\'s request id passes; none is added')
  assert.equal(set.headers['x-forwarded-proto'], undefined, 'no forwarding headers of our own')
  assert.equal(set.headers['x-forwarded-for'], '203.0.113.1, 127.0.0.1', 'the set value replaces the client\'s')

  await get(`${lb.url()}/host/x`, { host: 'Example.COM:99' })
  assert.equal(app.received[1].headers.host, 'example.com')

  await get(`${lb.url()}/bare/x`, { host: 'example.com', foo: 'bar' })
  assert.deepEqual(Object.keys(app.received[2].headers).filter((h) => h !== 'connection'), ['host'])
  assert.equal(app.received[2].headers.host, 'app', '$proxy_host defaults to the group name')

  const api = await raw(lb.port(), 'GET /api/a%20b/c%2Fd/../e?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n')
  assert.ok(api.endsWith('app /v1/a%20b/c/e?q=1'), 'prefix replaced on the normalised path, escaped again, query kept')
})

test('addHeaders: only on success and redirect statuses unless always; values are templates', async (t) => {
  const dead = await new Backend().start()
  const deadAddress = dead.address
  await dead.close()
  const app = await echo('app')
  t.after(() => app.close())
  const addHeaders = [
    { name: 'X-Frame-Options', value: 'DENY' },
    { name: 'X-Served-For', value: '$host$request_uri' },
    { name: 'X-Always', value: 'yes', always: true },
  ]
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0',
      routes: [
        { match: { path: '/ok' }, forward: 'app', addHeaders },
        { match: { path: '/dead' }, forward: 'dead', addHeaders },
        { match: { path: '/gone' }, respond: { status: 404, body: 'no' }, addHeaders },
        { match: { path: '/moved' }, redirect: { location: 'https://$host$request_uri', status: 301 }, addHeaders },
      ],
    }],
    targetGroups: { app: { targets: [app.address] }, dead: { targets: [deadAddress], retries: { tries: 1 } } },
  })
  const ok = await get(`${lb.url()}/ok?x=1`, { host: 'h.test' })
  assert.equal(ok.headers['x-frame-options'], 'DENY')
  assert.equal(ok.headers['x-served-for'], 'h.test/ok?x=1')
  assert.equal(ok.headers['x-always'], 'yes')
  const failed = await get(`${lb.url()}/dead`)
  assert.equal(failed.status, 502)
  assert.equal(failed.headers['x-frame-options'], undefined)
  assert.equal(failed.headers['x-always'], 'yes')
  const gone = await get(`${lb.url()}/gone`)
  assert.equal(gone.headers['x-frame-options'], undefined)
  assert.equal(gone.headers['x-always'], 'yes')
  const moved = await get(`${lb.url()}/moved/p?q=2`, { host: 'shop.test:8080' })
  assert.equal(moved.status, 301)
  assert.equal(moved.headers.location, 'https://shop.test/moved/p?q=2')
  assert.equal(moved.headers['x-frame-options'], 'DENY')
})

test('access: first match decides, no match allows, the innermost level with rules decides; IPv4 and mapped clients', async (t) => {
  const web = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0',
      access: [{ deny: 'all' }],
      virtualHosts: [{
        names: ['example.com'],
        access: [{ allow: '10.0.0.0/8' }, { deny: 'all' }],
        locations: [
          { location: '/open/', respond: { body: 'open' }, access: [{ deny: '192.168.0.1' }, { allow: '127.0.0.0/8' }, { deny: 'all' }] },
          { location: '/lifted/', respond: { body: 'lifted' }, access: [] },
          { location: '/', respond: { body: 'root' } },
        ],
      }],
    }],
  })
  const routes = await startBalancer(t, {
    listeners: [{
      // Dual-stack: node reports the IPv4 client as "::ffff:127.0.0.1".
      name: 'routes', protocol: 'http', listen: '[::]:0',
      routes: [
        { match: { path: '/v6only' }, respond: { body: 'x' }, access: [{ allow: '::1' }, { deny: 'all' }] },
        { respond: { body: 'listener-level' } },
      ],
      access: [{ allow: '127.0.0.1' }, { deny: 'all' }],
    }],
  })
  assert.equal((await get(`${web.url()}/open/x`)).body, 'open')
  assert.equal((await get(`${web.url()}/lifted/x`)).body, 'lifted', 'access: [] lifts the outer rules')
  const denied = await get(`${web.url()}/other`)
  assert.equal(denied.status, 403, 'the virtual host\'s rules (not the listener\'s) decide: 127.0.0.1 is not 10/8')
  assert.equal(denied.body, '403 Forbidden\n')
  assert.equal((await get(`${routes.url()}/v6only`)).status, 403, 'an IPv6 rule never matches an IPv4 client')
  assert.equal((await get(`${routes.url()}/any`)).body, 'listener-level', 'the IPv4-mapped client is compared as IPv4')
})

test('maxBodyBytes: a Content-Length over the limit is 413 before the body, and the connection closes', async (t) => {
  const app = await new Backend((req, res) => {
    let n = 0
    req.on('data', (c: Buffer) => { n += c.length })
    req.on('end', () => res.end(`got ${n}`))
  }).start()
  t.after(() => app.close())
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0', maxBodyBytes: 10,
      routes: [
        { match: { path: '/big/' }, forward: 'app', maxBodyBytes: 0 },
        { forward: 'app' },
      ],
    }],
    targetGroups: { app: { targets: [app.address] } },
  })
  assert.equal((await get(`${lb.url()}/small`, {}, 'POST', '0123456789')).body, 'got 10')
  const refused = await raw(lb.port(), 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n')
  assert.match(refused, /^HTTP\/1\.1 413 /)
  assert.match(refused, /\r\nConnection: close\r\n/i)
  assert.equal(app.count, 1, 'the refused body never reached the target')
  assert.equal((await get(`${lb.url()}/big/`, {}, 'POST', 'x'.repeat(1000))).body, 'got 1000', '0 = no limit on this route')
})

test('maxBodyBytes: a chunked body that grows past the limit gets 413 (nothing sent yet), and the attempt stops', async (t) => {
  const app = await new Backend((req, res) => {
    req.resume()
    req.on('end', () => res.end('done'))
  }).start()
  t.after(() => app.close())
  const lb = await startBalancer(t, {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app', maxBodyBytes: 8 }] }],
    targetGroups: { app: { targets: [app.address] } },
  })
  const ok = await raw(lb.port(), 'POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n')
  assert.match(ok, /^HTTP\/1\.1 200 /)
  const tooBig = await raw(lb.port(), 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n')
  assert.match(tooBig, /^HTTP\/1\.1 413 /)
  assert.match(tooBig, /\r\nConnection: close\r\n/i)
})

test('maxBodyBytes: when the answer has begun, a chunked body past the limit aborts the target request and cuts the client', async (t) => {
  let targetAborted: Promise<unknown> = Promise.resolve()
  const app = await new Backend((req, res) => {
    targetAborted = once(req, 'aborted')
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('streaming ')
    req.resume()
  }).start()
  t.after(() => app.close())
  const lb = await startBalancer(t, {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app', maxBodyBytes: 8 }] }],
    targetGroups: { app: { targets: [app.address] } },
  })
  const socket = connect(lb.port(), '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  socket.write('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n')
  let got = ''
  socket.on('data', (c: Buffer) => { got += c.toString('latin1') })
  while (!got.includes('streaming')) await once(socket, 'data')
  socket.write('8\r\nefghijkl\r\n')
  await once(socket, 'close')
  await targetAborted
  assert.match(got, /^HTTP\/1\.1 200 /)
  assert.ok(!got.endsWith('0\r\n\r\n'), 'the chunked answer is cut, not ended')
})

test('hashKey templates: the same $arg_user reaches the same target; other users spread', async (t) => {
  const backends = await Promise.all([1, 2, 3].map((i) => echo(`b${i}`)))
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const lb = await startBalancer(t, {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }] }],
    targetGroups: { app: { algorithm: 'hash', hashKey: '$arg_user$http_x_tenant', targets: backends.map((b) => b.address) } },
  })
  const who = async (user: string) => (await get(`${lb.url()}/?user=${user}`, { 'x-tenant': 't1' })).body.split(' ')[0]
  const seen = new Set<string>()
  for (let u = 0; u < 30; u++) {
    const first = await who(`u${u}`)
    assert.equal(await who(`u${u}`), first)
    seen.add(first)
  }
  assert.equal(seen.size, 3, '30 users spread over the 3 targets')
})

test('errorPages: nginx answers 404, 403, 413 and 502 with nginx\'s pages and reason phrases', async (t) => {
  const dead = await new Backend().start()
  const deadAddress = dead.address
  await dead.close()
  const config: ConfigInput = {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0', errorPages: 'nginx', maxBodyBytes: 4,
      virtualHosts: [{
        names: [''],
        locations: [
          { location: '/dead/', forward: 'dead' },
          { location: '/private/', respond: { body: 'x' }, access: [{ deny: 'all' }] },
          { location: '= /gone', respond: { status: 410, body: '' } },
          { location: '= /moved', redirect: { location: '/new', status: 302 } },
        ],
      }],
    }],
    targetGroups: { dead: { targets: [deadAddress], retries: { tries: 1 } } },
  }
  const lb = await startBalancer(t, config)
  const page = (title: string) =>
    `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>fulcrum</center>\r\n</body>\r\n</html>\r\n`
  const cases: Array<[string, string, string]> = [
    ['GET /nothing HTTP/1.1', '404 Not Found', '404 Not Found'],
    ['GET /private/ HTTP/1.1', '403 Forbidden', '403 Forbidden'],
    ['GET /dead/ HTTP/1.1', '502 Bad Gateway', '502 Bad Gateway'],
    ['GET /gone HTTP/1.1', '410 Gone', '410 Gone'],
    ['GET /moved HTTP/1.1', '302 Moved Temporarily', '302 Found'],
    ['POST / HTTP/1.1\r\nContent-Length: 5', '413 Request Entity Too Large', '413 Request Entity Too Large'],
  ]
  for (const [line, status, title] of cases) {
    const res = await raw(lb.port(), `${line}\r\nHost: x\r\nConnection: close\r\n\r\n`)
    assert.ok(res.startsWith(`HTTP/1.1 ${status}\r\n`), `${line}: ${res.split('\r\n')[0]}`)
    assert.match(res, /\r\nContent-Type: text\/html\r\n/i)
    assert.ok(res.endsWith(`\r\n\r\n${page(title)}`), `${line}: body`)
  }
})

function pairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]])
  return out
}
