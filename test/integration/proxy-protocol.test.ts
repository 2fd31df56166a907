/**
 * PROXY protocol: sent to targets by L4 listeners, accepted by HTTP, HTTPS and TCP listeners, and the
 * seed's chain (an L4 Fulcrum in front of an L7 Fulcrum, as an NLB in front of an ALB) showing the
 * original client's address at the targets and in the access log.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { join } from 'node:path'
import { InProcessDataPlane } from '../../src/control/data-plane.ts'
import { silentLogger } from '../../src/log.ts'
import { encodeProxyHeaderV1, encodeProxyHeaderV2 } from '../../src/proxy-protocol/proxy-header-encode.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { Backend, startBackends } from '../helpers/backend.ts'
import { parse, startBalancer } from '../helpers/balancer.ts'
import { TestCerts } from '../helpers/certs.ts'
import { tempDir, until } from '../helpers/process.ts'
import { exchange, startTcpTargets } from '../helpers/stream.ts'

/** Sends `head` (a PROXY header, or nothing) then an HTTP/1.1 GET on a raw socket; the whole answer as text. */
function rawGet(port: number, head: Buffer, ms = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(Buffer.concat([head, Buffer.from('GET /who HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n')]))
    })
    let text = ''
    const timer = setTimeout(() => socket.destroy(), ms)
    socket.on('data', (d: Buffer) => { text += d.toString() })
    socket.on('close', () => { clearTimeout(timer); resolve(text) })
    socket.on('error', () => {})
  })
}

const from = (sourceAddress: string) => ({ family: 'IPv4' as const, sourceAddress, sourcePort: 40000, destinationAddress: '10.0.0.1', destinationPort: 80 })

function echoClient(): Promise<Backend> {
  return new Backend((req, res) => {
    req.resume()
    res.end(`xff=${req.headers['x-forwarded-for']} real=${req.headers['x-real-ip']}`)
  }).start()
}

test('HTTP listener with acceptProxyProtocol: the header\'s source is the client (v1 and v2); no header or a bad one closes', async (t) => {
  const backend = await echoClient()
  t.after(() => backend.close())
  const lb = await startBalancer(t, {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', acceptProxyProtocol: true, routes: [{ forward: 'app' }] }],
    targetGroups: { app: { targets: [backend.address] } },
  })
  const port = lb.port('web')
  assert.match(await rawGet(port, encodeProxyHeaderV1(from('203.0.113.7'))), /xff=203\.0\.113\.7 real=203\.0\.113\.7$/)
  assert.match(await rawGet(port, encodeProxyHeaderV2(from('198.51.100.20'))), /xff=198\.51\.100\.20 real=198\.51\.100\.20$/)
  // A LOCAL header (a health check of the balancer in front) keeps the connection's own address.
  const local = Buffer.concat([encodeProxyHeaderV2(from('1.2.3.4')).subarray(0, 12), Buffer.from([0x20, 0x00, 0x00, 0x00])])
  assert.match(await rawGet(port, local), /xff=127\.0\.0\.1 real=127\.0\.0\.1$/)
  const before = backend.count
  assert.equal(await rawGet(port, Buffer.alloc(0)), '', 'a request without the header is closed unanswered')
  assert.equal(await rawGet(port, Buffer.from('PROXY TCP4 1.2.3.4 nonsense\r\n')), '', 'a malformed header is closed unanswered')
  assert.equal(backend.count, before)
})

test('HTTPS listener with acceptProxyProtocol: the header comes before the TLS handshake', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  const backend = await echoClient()
  t.after(() => backend.close())
  const leaf = certs.leaf('site', ['site.example.com'])
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'secure', protocol: 'https', listen: '127.0.0.1:0', acceptProxyProtocol: true, tls: { certificates: [leaf] },
      routes: [{ forward: 'app' }],
    }],
    targetGroups: { app: { targets: [backend.address] } },
  })
  const text = await new Promise<string>((resolve, reject) => {
    const raw = connect(lb.port('secure'), '127.0.0.1', () => {
      raw.write(encodeProxyHeaderV2(from('192.0.2.44')))
      const socket = tlsConnect({ socket: raw, servername: 'site.example.com', ca: readFileSync(certs.ca) }, () => {
        socket.write('GET / HTTP/1.1\r\nhost: site.example.com\r\nconnection: close\r\n\r\n')
      })
      let out = ''
      socket.on('data', (d: Buffer) => { out += d.toString() })
      socket.on('end', () => resolve(out))
      socket.on('error', reject)
    })
  })
  assert.match(text, /xff=192\.0\.2\.44 real=192\.0\.2\.44$/)
})

test('TCP listener: sends PROXY v1 to its targets with the client\'s address, and passes on an accepted header\'s source', async (t) => {
  const [target] = await startTcpTargets(['a'])
  t.after(() => target.kill())
  const lb = await startBalancer(t, {
    listeners: [
      { name: 'send', protocol: 'tcp', listen: '127.0.0.1:0', forward: 'app', proxyProtocol: 'v1' },
      { name: 'relay', protocol: 'tcp', listen: '127.0.0.1:0', forward: 'app', proxyProtocol: 'v1', acceptProxyProtocol: true },
    ],
    targetGroups: { app: { targets: [target.address] } },
  })
  const r = await exchange(lb.port('send'), 'hi', { localAddress: '127.0.0.9', closeAfter: 10 })
  assert.match(target.starts[0].toString(), new RegExp(`^PROXY TCP4 127\\.0\\.0\\.9 127\\.0\\.0\\.1 \\d+ ${lb.port('send')}\\r\\n`))
  assert.match(r.text, /hi$/)
  await exchange(lb.port('relay'), Buffer.concat([encodeProxyHeaderV2(from('203.0.113.99')), Buffer.from('x')]), { closeAfter: 10 })
  await until(() => target.starts.length === 2, 2_000, 'second connection')
  assert.match(target.starts[1].toString(), /^PROXY TCP4 203\.0\.113\.99 10\.0\.0\.1 40000 80\r\n/)
})

test('the seed\'s chain: TCP listener with PROXY v2 -> HTTP listener -> four targets see the original client (and so does the access log)', async (t) => {
  const backends = await startBackends(4, (req, res) => { req.resume(); res.end('ok') })
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const dir = tempDir(t)
  const logPath = join(dir.dir, 'access.log')
  // The L7 Fulcrum (the ALB of the seed), with an access log.
  const l7Config = parse({
    admin: { enabled: false },
    listeners: [{
      name: 'alb', protocol: 'http', listen: '127.0.0.1:0', acceptProxyProtocol: true, routes: [{ forward: 'app' }],
      accessLog: { format: '$remote_addr $status', path: logPath },
    }],
    targetGroups: { app: { targets: backends.map((b) => b.address) } },
  })
  const l7 = new InProcessDataPlane(silentLogger(), { metrics: false, configDir: dir.dir })
  await l7.start(l7Config, [])
  t.after(() => l7.stop(1_000))
  const l7Port = (await l7.ports()).alb
  // The L4 Fulcrum (the NLB with a fixed address) in front of it.
  const l4 = await startBalancer(t, {
    listeners: [{ name: 'nlb', protocol: 'tcp', listen: '127.0.0.1:0', forward: 'alb', proxyProtocol: 'v2' }],
    targetGroups: { alb: { targets: [`127.0.0.1:${l7Port}`] } },
  } as ConfigInput)
  for (let i = 0; i < 8; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: l4.port('nlb'), path: `/r${i}`, localAddress: '127.0.0.77', agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal(status, 200)
  }
  for (const b of backends) {
    assert.equal(b.count, 2, 'round robin over the four targets')
    for (const r of b.received) {
      assert.equal(r.headers['x-forwarded-for'], '127.0.0.77')
      assert.equal(r.headers['x-real-ip'], '127.0.0.77')
    }
  }
  await l7.stop(1_000)
  const lines = readFileSync(logPath, 'utf8').trim().split('\n')
  assert.deepEqual(lines, Array(8).fill('127.0.0.77 200'))
})
