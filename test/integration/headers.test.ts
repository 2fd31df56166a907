/**
 * What a target receives and what the client gets back: forwarding headers, request ids, hop-by-hop
 * removal (RFC 9110 §7.6.1), Host passed through, and the special responses (HEAD, 204, 304, chunked).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'

/** Sends one raw HTTP/1.1 request and returns the whole raw response (the server closes the connection). */
async function raw(port: number, text: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(text)
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  await once(socket, 'close')
  return Buffer.concat(chunks).toString('latin1')
}

test('forwarding headers: X-Forwarded-For appended, X-Forwarded-*, X-Real-IP, Host passed through', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, simpleConfig([backend.address]))
  const res = await request(`${lb.url()}/path?q=1`, {
    headers: { host: 'shop.example.com:8443', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-real-ip': '1.2.3.4' },
  })
  await res.body.text()
  const got = backend.received[0]
  assert.equal(got.url, '/path?q=1')
  assert.equal(got.headers.host, 'shop.example.com:8443')
  assert.equal(got.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1')
  assert.equal(got.headers['x-forwarded-proto'], 'http', 'our hop replaces what the client claimed')
  assert.equal(got.headers['x-forwarded-host'], 'shop.example.com:8443')
  assert.equal(got.headers['x-forwarded-port'], String(lb.port()))
  assert.equal(got.headers['x-real-ip'], '127.0.0.1')
})

test('X-Request-Id is kept when sent, generated when not, and echoed on the response', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, simpleConfig([backend.address]))
  const kept = await request(lb.url(), { headers: { 'x-request-id': 'abc-123' } })
  await kept.body.text()
  assert.equal(kept.headers['x-request-id'], 'abc-123')
  assert.equal(backend.received[0].headers['x-request-id'], 'abc-123')
  const made = await request(lb.url())
  await made.body.text()
  const id = made.headers['x-request-id'] as string
  assert.match(id, /^[0-9a-f-]{36}$/)
  assert.equal(backend.received[1].headers['x-request-id'], id)
})

test('hop-by-hop headers and the fields named in Connection are not forwarded, either way', async (t) => {
  const backend = await new Backend((req, res) => {
    req.resume()
    res.writeHead(200, { 'keep-alive': 'timeout=5', 'x-hop': 'no', connection: 'x-hop', 'x-end': 'yes' })
    res.end('ok')
  }).start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, simpleConfig([backend.address]))
  const answer = await raw(lb.port(), 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\n'
    + 'Keep-Alive: 300\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade-Insecure-Requests: 1\r\n\r\n')
  const got = backend.received[0].headers
  for (const h of ['x-secret', 'keep-alive', 'proxy-connection', 'te']) assert.equal(got[h], undefined, `${h} was forwarded`)
  assert.equal(got['upgrade-insecure-requests'], '1', 'an ordinary header that starts like a hop-by-hop one stays')
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/)
  assert.doesNotMatch(answer, /x-hop/i)
  assert.doesNotMatch(answer, /keep-alive: timeout=5/i)
  assert.match(answer, /x-end: yes/i)
})

test('HEAD, 204 and 304 answers carry no body and keep the connection usable', async (t) => {
  const backend = await new Backend((req, res) => {
    req.resume()
    if (req.url === '/204') { res.writeHead(204); res.end(); return }
    if (req.url === '/304') { res.writeHead(304, { etag: '"x"' }); res.end(); return }
    res.writeHead(200, { 'content-length': '5', 'content-type': 'text/plain' })
    res.end(req.method === 'HEAD' ? undefined : 'hello')
  }).start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, simpleConfig([backend.address]))
  const head = await request(lb.url(), { method: 'HEAD' })
  assert.equal(head.statusCode, 200)
  assert.equal(head.headers['content-length'], '5')
  assert.equal(await head.body.text(), '')
  const noContent = await request(`${lb.url()}/204`)
  assert.equal(noContent.statusCode, 204)
  assert.equal(await noContent.body.text(), '')
  const notModified = await request(`${lb.url()}/304`, { headers: { 'if-none-match': '"x"' } })
  assert.equal(notModified.statusCode, 304)
  assert.equal(await notModified.body.text(), '')
  const after = await request(lb.url())
  assert.equal(await after.body.text(), 'hello')
})

test('chunked request and response bodies pass through', async (t) => {
  const backend = await new Backend(async (req, res) => {
    let body = ''
    for await (const c of req) body += c
    res.write(`got ${req.headers['transfer-encoding'] ?? 'length'}:`)
    res.write(body)
    res.end()
  }).start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, simpleConfig([backend.address]))
  const answer = await raw(lb.port(), 'POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n'
    + '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n')
  // The body is streamed on as it arrives; how it is framed towards the target is the proxy's choice.
  assert.match(answer, /transfer-encoding: chunked/i)
  assert.match(answer.replace(/\r\n[0-9a-f]+\r\n/g, ''), /got (chunked|length):hello world/)
})

test('Expect: 100-continue gets 100 Continue from the balancer and the body reaches the target', async (t) => {
  const backend = await new Backend(async (req, res) => {
    let body = ''
    for await (const c of req) body += c
    res.end(`echo:${body}:${req.headers.expect ?? 'none'}`)
  }).start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, simpleConfig([backend.address]))
  const socket = connect(lb.port(), '127.0.0.1')
  await once(socket, 'connect')
  socket.write('POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n')
  const [first] = await once(socket, 'data') as [Buffer]
  assert.match(first.toString(), /^HTTP\/1\.1 100 Continue/)
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.write('ping')
  await once(socket, 'close')
  assert.match(Buffer.concat(chunks).toString(), /echo:ping:none/)
})
