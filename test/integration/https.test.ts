/**
 * HTTPS listeners over real sockets: certificates chosen by SNI, HTTP/2 by ALPN with large streamed bodies
 * (curl, and nghttp when installed), certificates swapped on reload with a connection open, validation of a
 * mismatched key, the redirect to HTTPS, HSTS, and TLS towards the targets.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { connect as h2connect } from 'node:http2'
import { createServer as createHttpsServer } from 'node:https'
import { connect as tlsConnect, type PeerCertificate } from 'node:tls'
import { join } from 'node:path'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'
import { TestCerts } from '../helpers/certs.ts'
import { parseConfigText } from '../../src/config/load.ts'
import type { ConfigInput } from '../../src/config/schema.ts'

const certs = new TestCerts()
process.on('exit', () => certs.remove())
const a = certs.leaf('a', ['a.example.test'])
const b = certs.leaf('b', ['*.b.example.test'])

function has(command: string, args: string[]): boolean {
  try { execFileSync(command, args, { stdio: 'pipe' }); return true } catch { return false }
}
const curlH2 = has('curl', ['-V']) && /HTTP2/.test(execFileSync('curl', ['-V']).toString())
const nghttp = has('nghttp', ['--version'])

function curl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', ...args], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => err === null ? resolve({ stdout, stderr }) : reject(new Error(`${err.message}\n${stderr}`)))
  })
}

function run(command: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err === null ? resolve(stdout) : reject(new Error(`${err.message}\n${stderr.toString()}`)))
  })
}

/** The certificate a TLS client asking for `servername` gets. */
async function peer(port: number, servername: string | undefined): Promise<PeerCertificate> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca: readFileSync(certs.ca), checkServerIdentity: () => undefined })
  await once(socket, 'secureConnect')
  const cert = socket.getPeerCertificate()
  socket.destroy()
  return cert
}

function httpsConfig(targets: string[], listener: Record<string, unknown> = {}, certificates = [a, b]): ConfigInput {
  return {
    listeners: [{ name: 'secure', protocol: 'https', listen: '127.0.0.1:0', tls: { certificates }, routes: [{ forward: 'app' }], ...listener }],
    targetGroups: { app: { targets } },
  } as ConfigInput
}

async function echoBackend(t: TestContext): Promise<Backend> {
  const backend = await new Backend((req, res) => {
    req.resume()
    res.setHeader('x-seen-proto', String(req.headers['x-forwarded-proto']))
    res.setHeader('x-seen-host', String(req.headers.host))
    res.end('hello')
  }).start()
  t.after(() => backend.close())
  return backend
}

test('certificates are chosen by SNI: exact name, wildcard, and the first one as the default', async (t) => {
  const backend = await echoBackend(t)
  const lb = await startBalancer(t, httpsConfig([backend.address]))
  const port = lb.port()
  assert.equal((await peer(port, 'a.example.test')).subject.CN, 'a.example.test')
  assert.equal((await peer(port, 'x.b.example.test')).subject.CN, '*.b.example.test')
  assert.equal((await peer(port, 'unknown.test')).subject.CN, 'a.example.test', 'no match: the first certificate')
  assert.equal((await peer(port, undefined)).subject.CN, 'a.example.test', 'no SNI: the first certificate')

  for (const name of ['a.example.test', 'x.b.example.test']) {
    const { stdout, stderr } = await curl(['-v', '-D', '-', '--resolve', `${name}:${port}:127.0.0.1`, '--cacert', certs.ca, `https://${name}:${port}/`])
    assert.match(stdout, /x-seen-proto: https/i)
    assert.match(stdout, /hello$/)
    assert.match(stderr, name === 'a.example.test' ? /subject: CN=a\.example\.test/ : /subject: CN=\*\.b\.example\.test/)
  }
})

test('HTTP/2 by ALPN: :authority is the Host, and 50 MB stream down and up', { skip: curlH2 ? false : 'curl without HTTP2' }, async (t) => {
  const size = 50 * 1024 * 1024
  const chunk = Buffer.alloc(1024 * 1024, 'x')
  const backend = await new Backend((req, res) => {
    if (req.url === '/down') {
      req.resume()
      let sent = 0
      const pump = (): void => {
        while (sent < size) {
          sent += chunk.length
          if (!res.write(chunk)) { res.once('drain', pump); return }
        }
        res.end()
      }
      pump()
      return
    }
    let received = 0
    req.on('data', (c: Buffer) => { received += c.length })
    req.on('end', () => res.end(`${received} ${req.headers.host} ${req.headers['x-forwarded-proto']}`))
  }).start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, httpsConfig([backend.address], { http2: true }))
  const port = lb.port()
  const base = ['--http2', '--resolve', `a.example.test:${port}:127.0.0.1`, '--cacert', certs.ca]
  const down = await curl([...base, '-o', '/dev/null', '-w', '%{http_version} %{size_download}', `https://a.example.test:${port}/down`])
  assert.equal(down.stdout, `2 ${size}`)
  const file = join(certs.dir, 'upload.bin')
  writeFileSync(file, Buffer.alloc(size, 'y'))
  const up = await curl([...base, '-w', ' %{http_version}', '--data-binary', `@${file}`, `https://a.example.test:${port}/up`])
  assert.equal(up.stdout, `${size} a.example.test:${port} https 2`)
  // A chunked upload (no Content-Length) streams too.
  const chunked = await curl([...base, '-H', 'transfer-encoding: chunked', '--data-binary', `@${file}`, `https://a.example.test:${port}/up`])
  assert.equal(chunked.stdout, `${size} a.example.test:${port} https`)
  // HTTP/1.1 still works on the same listener.
  const h1 = await curl([...base.slice(1), '--http1.1', '-w', ' %{http_version}', `https://a.example.test:${port}/up`])
  assert.equal(h1.stdout, `0 a.example.test:${port} https 1.1`)

  if (!nghttp) {
    if (process.env.CI === 'true') assert.fail('nghttp (nghttp2-client) is required on CI')
    t.diagnostic('nghttp not installed (apt-get install nghttp2-client): its check is skipped')
    return
  }
  // nghttp speaks HTTP/2 only (no HTTP/1.1 fallback) and sends no SNI for an address: the default certificate.
  // Run without blocking: the balancer answers from this process.
  const body = await run('nghttp', [`https://127.0.0.1:${port}/down`])
  assert.equal(body.length, size)
  const echoed = (await run('nghttp', ['-d', file, `https://127.0.0.1:${port}/up`])).toString()
  assert.equal(echoed, `${size} 127.0.0.1:${port} https`)
})

test('a reload swaps the certificate: an open connection keeps working, a new one sees the new certificate', async (t) => {
  const backend = await echoBackend(t)
  const lb = await startBalancer(t, httpsConfig([backend.address], { http2: true }))
  const port = lb.port()
  const before = await peer(port, 'a.example.test')
  const session = h2connect(`https://a.example.test:${port}`, { ca: readFileSync(certs.ca), servername: 'a.example.test', host: '127.0.0.1', port } as never)
  t.after(() => session.close())
  const get = async (): Promise<string> => {
    const stream = session.request({ ':path': '/' })
    let body = ''
    stream.setEncoding('utf8')
    stream.on('data', (c: string) => { body += c })
    await once(stream, 'end')
    return body
  }
  assert.equal(await get(), 'hello')
  const renewed = certs.leaf('a2', ['a.example.test'])
  await lb.reload(httpsConfig([backend.address], { http2: true }, [renewed, b]))
  assert.equal(await get(), 'hello', 'the connection opened before the reload still serves')
  const after = await peer(port, 'a.example.test')
  assert.notEqual(after.serialNumber, before.serialNumber)
  assert.equal(after.fingerprint256, new X509Certificate(readFileSync(renewed.cert)).fingerprint256)
})

test('a key that does not match its certificate is a validation error naming both files', () => {
  const text = `listeners:\n  - name: secure\n    protocol: https\n    listen: "127.0.0.1:0"\n    tls:\n      certificates:\n        - { cert: a.pem, key: b.key }\n    routes: [{ respond: { body: hi } }]\n`
  const result = parseConfigText(text, join(certs.dir, 'fulcrum.yaml'))
  assert.equal(result.ok, false)
  const message = result.ok ? '' : result.problems.map((p) => p.message).join('\n')
  assert.match(message, /b\.key does not match the certificate .*a\.pem/)
  // hsts or http2 on an http listener, and https without tls, are reported too.
  const wrong = parseConfigText(`listeners:\n  - { name: w, protocol: http, listen: '127.0.0.1:0', http2: true, hsts: { maxAge: 1h } }\n  - { name: s, protocol: https, listen: '127.0.0.1:0' }\n`, join(certs.dir, 'f.yaml'))
  assert.equal(wrong.ok, false)
  const all = wrong.ok ? '' : wrong.problems.map((p) => p.message).join('\n')
  assert.match(all, /http2 is offered by ALPN on https listeners only/)
  assert.match(all, /hsts applies to https listeners only/)
  assert.match(all, /an https listener needs tls/)
})

test('redirect to https keeps host, path and query; hsts is sent on https answers', async (t) => {
  const backend = await echoBackend(t)
  // One balancer each: listeners on port 0 would share one key.
  const plain = await startBalancer(t, { listeners: [{ name: 'plain', protocol: 'http', listen: '127.0.0.1:0', routes: [{ redirect: { scheme: 'https', status: 301 } }] }] } as ConfigInput)
  const moved = await startBalancer(t, { listeners: [{ name: 'moved', protocol: 'http', listen: '127.0.0.1:0', routes: [{ redirect: { scheme: 'https', port: 8443, status: 308 } }] }] } as ConfigInput)
  const secure = await startBalancer(t, httpsConfig([backend.address], { hsts: { maxAge: '8760h', includeSubDomains: true } }, [a]))
  const r = await request(`${plain.url()}/a/b?x=1&y=2`, { headers: { host: 'shop.example.test:8080' } })
  assert.equal(r.statusCode, 301)
  assert.equal(r.headers.location, 'https://shop.example.test/a/b?x=1&y=2')
  const m = await request(`${moved.url()}/p`, { headers: { host: 'shop.example.test' } })
  assert.equal(m.statusCode, 308)
  assert.equal(m.headers.location, 'https://shop.example.test:8443/p')
  const port = secure.port()
  const { stdout } = await curl(['-D', '-', '--resolve', `a.example.test:${port}:127.0.0.1`, '--cacert', certs.ca, `https://a.example.test:${port}/`])
  assert.match(stdout, /strict-transport-security: max-age=31536000; includeSubDomains\r\n/i)
})

test('upstream TLS verifies targets by default; ca and insecureSkipVerify make it connect', async (t) => {
  const leaf = certs.leaf('backend', ['backend.test'])
  const server = createHttpsServer({ cert: readFileSync(leaf.cert), key: readFileSync(leaf.key) }, (req, res) => {
    req.resume()
    res.end(`tls backend ${(req.socket as { servername?: string }).servername}`)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => { server.closeAllConnections(); server.close() })
  const address = `127.0.0.1:${(server.address() as { port: number }).port}`
  const config = (tls: Record<string, unknown> | undefined): ConfigInput => ({
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }] }],
    targetGroups: { app: { targets: [address], protocol: 'https', ...(tls === undefined ? {} : { tls }), retries: { tries: 1 } } },
  } as ConfigInput)
  const lb = await startBalancer(t, config({ serverName: 'backend.test' }))
  assert.equal((await request(lb.url())).statusCode, 502, 'an unknown CA is refused')
  await lb.reload(config({ serverName: 'backend.test', ca: certs.ca }))
  const ok = await request(lb.url())
  assert.equal(ok.statusCode, 200)
  assert.equal(await ok.body.text(), 'tls backend backend.test')
  await lb.reload(config({ ca: certs.ca, serverName: 'other.test' }))
  assert.equal((await request(lb.url())).statusCode, 502, 'a certificate for another name is refused')
  await lb.reload(config({ insecureSkipVerify: true }))
  assert.equal((await request(lb.url())).statusCode, 200)
})

test('stop ends an idle HTTP/1.1 keep-alive connection on an HTTP/2 listener after drainTimeout', async (t) => {
  const backend = await echoBackend(t)
  const lb = await startBalancer(t, httpsConfig([backend.address], { http2: true }))
  const { Agent, get } = await import('node:https')
  const agent = new Agent({ keepAlive: true, ca: readFileSync(certs.ca), servername: 'a.example.test', checkServerIdentity: () => undefined })
  t.after(() => agent.destroy())
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
    get({ host: '127.0.0.1', port: lb.port(), path: '/', agent }, resolve).on('error', reject))
  const socket = res.socket
  res.resume()
  await once(res, 'end')
  await lb.balancer.stop(200)
  if (!socket.destroyed) await once(socket, 'close')
})
