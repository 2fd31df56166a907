/**
 * The tls-passthrough listener: the SNI name of the ClientHello picks the target group, and the TLS
 * session is the target's own (its certificate answers; the balancer holds no key).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { TestCerts } from '../helpers/certs.ts'
import { startBalancer } from '../helpers/balancer.ts'
import { exchange } from '../helpers/stream.ts'
import type { ConfigInput } from '../../src/config/schema.ts'

/** A TLS server that answers each connection with its name, then closes. */
async function tlsTarget(name: string, files: { cert: string; key: string }): Promise<{ server: TlsServer; address: string; accepted: () => number }> {
  let accepted = 0
  const server = createTlsServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, (socket) => {
    accepted++
    socket.on('error', () => socket.destroy())
    socket.end(`served by ${name}`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}`, accepted: () => accepted }
}

/** Opens TLS through the balancer with this SNI name (none when undefined); the answer and the certificate's names. */
function tlsGet(port: number, ca: Buffer, servername: string | undefined): Promise<{ text: string; san: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername, rejectUnauthorized: servername !== undefined })
    let text = ''
    let san: string | undefined
    socket.on('secureConnect', () => { san = socket.getPeerCertificate().subjectaltname ?? '' })
    socket.on('data', (d: Buffer) => { text += d.toString() })
    socket.on('end', () => resolve(san === undefined ? { error: 'closed before the handshake' } : { text, san }))
    socket.on('error', (err) => resolve({ error: err.message }))
    socket.setTimeout(3_000, () => { socket.destroy(); resolve({ error: 'timeout' }) })
  })
}

test('tls-passthrough: SNI picks the target, which terminates TLS with its own certificate', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  const a = await tlsTarget('a', certs.leaf('a', ['a.example.com']))
  const b = await tlsTarget('b', certs.leaf('b', ['b.example.org', 'x.b.example.org']))
  t.after(() => { a.server.close(); b.server.close() })
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'tls', protocol: 'tls-passthrough', listen: '127.0.0.1:0',
      routes: [
        { serverNames: ['a.example.com'], forward: 'group-a' },
        { serverNames: ['*.b.example.org', 'b.example.org'], forward: 'group-b' },
      ],
    }],
    targetGroups: { 'group-a': { targets: [a.address] }, 'group-b': { targets: [b.address] } },
  } as ConfigInput)
  const ca = readFileSync(certs.ca)
  const port = lb.port('tls')
  assert.deepEqual(await tlsGet(port, ca, 'a.example.com'), { text: 'served by a', san: 'DNS:a.example.com' })
  assert.deepEqual(await tlsGet(port, ca, 'b.example.org'), { text: 'served by b', san: 'DNS:b.example.org, DNS:x.b.example.org' })
  // A wildcard route covers names below it; the target's certificate decides whether the client trusts it.
  assert.deepEqual(await tlsGet(port, ca, 'X.B.Example.Org'), { text: 'served by b', san: 'DNS:b.example.org, DNS:x.b.example.org' })
  // No route for the name, and no default forward: closed before any target is asked.
  const unknown = await tlsGet(port, ca, 'c.example.net')
  assert.ok('error' in unknown, 'an unrouted name gets no TLS session')
  assert.equal(a.accepted() + b.accepted(), 3)
  // Bytes that are not a ClientHello: closed.
  const garbage = await exchange(port, 'GET / HTTP/1.1\r\n\r\n')
  assert.equal(garbage.text, '')
  assert.notEqual(garbage.how, 'timeout')
})

test('tls-passthrough: a default forward takes connections without SNI or with an unknown name', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  const a = await tlsTarget('a', certs.leaf('a', ['a.example.com']))
  const fallback = await tlsTarget('default', certs.leaf('d', ['default.example.com']))
  t.after(() => { a.server.close(); fallback.server.close() })
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'tls', protocol: 'tls-passthrough', listen: '127.0.0.1:0',
      routes: [{ serverNames: ['a.example.com'], forward: 'group-a' }], forward: 'fallback',
    }],
    targetGroups: { 'group-a': { targets: [a.address] }, fallback: { targets: [fallback.address] } },
  } as ConfigInput)
  const ca = readFileSync(certs.ca)
  const noSni = await tlsGet(lb.port('tls'), ca, undefined)
  assert.ok(!('error' in noSni) && noSni.text === 'served by default', JSON.stringify(noSni))
  const other = await tlsGet(lb.port('tls'), ca, 'default.example.com')
  assert.ok(!('error' in other) && other.text === 'served by default', JSON.stringify(other))
})
