/**
 * Request limits and smuggling: what a listener refuses before routing (414, 431, 413, 400, 501, 408),
 * that it closes the connection after, and that nothing of a refused request reaches a target.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import type { ConfigInput } from '../../src/config/schema.ts'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'

/** Writes `raw` (in pieces with `gapMs` between them when given), reads until the balancer closes or `ms` passes. */
function raw(port: number, data: string | string[], options: { gapMs?: number; ms?: number } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    let closed = false
    const timer = setTimeout(() => socket.destroy(), options.ms ?? 2_000)
    socket.on('data', (d: Buffer) => { text += d.toString('latin1') })
    socket.on('end', () => { closed = true })
    socket.on('close', () => { clearTimeout(timer); resolve({ text, closed }) })
    socket.on('error', () => { closed = true })
    const pieces = Array.isArray(data) ? data : [data]
    let i = 0
    const next = (): void => {
      if (i >= pieces.length || socket.destroyed) return
      socket.write(pieces[i++])
      if (i < pieces.length) setTimeout(next, options.gapMs ?? 0)
    }
    socket.on('connect', next)
  })
}

async function setup(t: import('node:test').TestContext, listener: Record<string, unknown> = {}) {
  const backend = new Backend((req, res) => {
    let n = 0
    req.on('data', (c: Buffer) => { n += c.length })
    req.on('end', () => res.end(`got ${req.method} ${req.url} ${n}`))
  })
  await backend.start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }], ...listener }],
    targetGroups: { app: { targets: [backend.address] } },
  } as ConfigInput)
  return { backend, port: lb.port('web') }
}

const status = (text: string): string => text.split('\r\n')[0]

test('limits: long URI 414, too many headers 431, too large a head 431, large body 413 before it is read; each closes', async (t) => {
  const { backend, port } = await setup(t, { limits: { maxUriBytes: 100, maxHeaders: 5, maxHeaderBytes: '2KiB', maxBodyBytes: '1k' } })
  const long = await raw(port, `GET /${'a'.repeat(200)} HTTP/1.1\r\nhost: x\r\n\r\n`)
  assert.equal(status(long.text), 'HTTP/1.1 414 URI Too Long')
  assert.ok(long.closed)
  const many = await raw(port, `GET / HTTP/1.1\r\nhost: x\r\n${Array.from({ length: 6 }, (_, i) => `x-${i}: y\r\n`).join('')}\r\n`)
  assert.equal(status(many.text), 'HTTP/1.1 431 Request Header Fields Too Large')
  assert.ok(many.closed)
  const big = await raw(port, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(3000)}\r\n\r\n`)
  assert.equal(status(big.text), 'HTTP/1.1 431 Request Header Fields Too Large')
  const body = await raw(port, 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n')
  assert.equal(status(body.text), 'HTTP/1.1 413 Payload Too Large')
  assert.ok(body.closed)
  assert.equal(backend.count, 0, 'nothing reached the target')
  const ok = await raw(port, 'GET /fine HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
  assert.match(ok.text, /got GET \/fine 0$/)
})

test('smuggling: ambiguous framing is refused with 400 (501 for a coding other than chunked) and the connection closed', async (t) => {
  const { backend, port } = await setup(t)
  const cases: Array<[string, string, string]> = [
    ['Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', '400'],
    ['two Content-Length', 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!', '400'],
    ['the same Content-Length twice', 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\nhello', '400'],
    ['a Content-Length list', 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5, 5\r\n\r\nhello', '400'],
    ['obs-fold', 'GET / HTTP/1.1\r\nhost: x\r\nx-a: one\r\n two\r\n\r\n', '400'],
    ['a control byte in a value', 'GET / HTTP/1.1\r\nhost: x\r\nx-a: a\x01b\r\n\r\n', '400'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nhost: x\r\ntransfer-encoding : chunked\r\n\r\n0\r\n\r\n', '400'],
    ['two Host fields', 'GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n', '400'],
    ['HTTP/1.0 with Transfer-Encoding', 'POST / HTTP/1.0\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', '400'],
    ['bare LF line ends', 'GET / HTTP/1.1\nhost: x\n\n', '400'],
    ['a coding other than chunked', 'POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n', '501'],
  ]
  for (const [what, request, code] of cases) {
    // A second request rides behind each bad one: it must never be answered (the connection closes).
    const r = await raw(port, `${request}GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n`)
    assert.equal(status(r.text).slice(9, 12), code, `${what}: ${JSON.stringify(r.text.slice(0, 80))}`)
    assert.ok(r.closed, `${what}: the connection is closed`)
    assert.equal(r.text.match(/HTTP\/1\.1 /g)?.length, 1, `${what}: one answer only`)
  }
  assert.equal(backend.count, 0, 'no ambiguous request reached the target')
})

test('slowloris: a head sent a byte at a time is cut at headerTimeout; a stalled body at bodyTimeout (408)', async (t) => {
  const { backend, port } = await setup(t, { limits: { headerTimeout: '300ms', bodyTimeout: '300ms' } })
  const head = 'GET / HTTP/1.1\r\nhost: x\r\nx-slow: ' + 'z'.repeat(30) + '\r\n\r\n'
  const started = Date.now()
  const slow = await raw(port, head.split(''), { gapMs: 50, ms: 5_000 })
  assert.ok(slow.closed, 'the balancer closed the connection')
  assert.ok(Date.now() - started < 2_500, `cut after ${Date.now() - started}ms, not after the ${head.length * 50}ms the head would take`)
  assert.ok(slow.text === '' || status(slow.text) === 'HTTP/1.1 408 Request Timeout', slow.text)
  const stalled = await raw(port, 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly-part', { ms: 5_000 })
  assert.equal(status(stalled.text), 'HTTP/1.1 408 Request Timeout')
  assert.ok(stalled.closed)
  // A body this small is held whole before it is sent (so it can be retried): the target never saw it.
  assert.equal(backend.count, 0)
})
