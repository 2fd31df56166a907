/** Slow clients: a connection that does not finish its headers in time is answered 408 and closed. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'

test('headerTimeout closes a client that sends its headers too slowly', async (t) => {
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', limits: { headerTimeout: '300ms' }, routes: [{ forward: 'app' }] }],
    targetGroups: { app: { targets: [backend.address] } },
  })
  const socket = connect(lb.port(), '127.0.0.1')
  await once(socket, 'connect')
  const started = Date.now()
  socket.write('GET / HTTP/1.1\r\nHost: a\r\n')
  // One header byte every 100ms: never finishes in time.
  const drip = setInterval(() => { if (socket.writable) socket.write('X') }, 100)
  t.after(() => clearInterval(drip))
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  await once(socket, 'close')
  clearInterval(drip)
  const elapsed = Date.now() - started
  assert.ok(elapsed >= 250 && elapsed < 3_000, `closed after ${elapsed}ms`)
  assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 408/)
  assert.equal(backend.count, 0)
})
