/**
 * The client-side fault suite, part 1: clients that hold connections. Heads sent a byte a second
 * (slowloris), thousands of idle connections, maxConnections, connections that never send a byte or stay
 * idle after an answer, and clients that hang up mid-upload or mid-download. For each: the balancer cuts
 * what it must when it must, keeps serving everyone else, and its open fds and heap return to their
 * baseline (test/helpers/baseline.ts). Part 2 (pipelining, oversized and forbidden requests) is
 * faults-clients-2.test.ts.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { ConfigInput } from '../../src/config/schema.ts'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'
import { assertBackToBaseline, baseline, fdLimit, fds } from '../helpers/baseline.ts'
import { until } from '../helpers/process.ts'
import { parseResponses, plainGet, rawExchange } from '../helpers/raw-client.ts'

/** What the target saw of one request: bytes of body, and whether it ended or was cut. */
interface Seen { readonly url: string; bytes: number; ended: boolean; closed: boolean }

/**
 * An echo target ("echo METHOD URL BYTES" once the body ended) behind one HTTP listener with these
 * `limits` (and top-level `extra`, such as maxConnections). Pooled target connections idle out after
 * 300 ms so the fd count can come back. `/download` streams 16 MiB slowly instead.
 */
async function setup(t: TestContext, limits: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const seen: Seen[] = []
  const backend = new Backend((req, res) => {
    const s: Seen = { url: req.url as string, bytes: 0, ended: false, closed: false }
    seen.push(s)
    if (req.url === '/download') {
      stream(res)
      return
    }
    req.on('data', (c: Buffer) => { s.bytes += c.length })
    req.on('end', () => { s.ended = true; res.end(`echo ${req.method} ${req.url} ${s.bytes}`) })
    req.on('close', () => { s.closed = true })
  })
  await backend.start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, {
    ...extra,
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', limits, routes: [{ forward: 'app' }] }],
    targetGroups: { app: { targets: [backend.address], timeouts: { keepAlive: '300ms' } } },
  } as ConfigInput)
  const port = lb.port()
  // Warm up (pool, parsers, JIT) before the baseline is taken.
  assert.deepEqual(await plainGet(port, '/warm').then((r) => [r.status, r.body]), [200, 'echo GET /warm 0'])
  return { backend, seen, port, base: await baseline() }
}

/** Streams up to 16 MiB in 16 KiB pieces every 5 ms (minding backpressure); records whether it finished. */
const downloads: Array<{ written: number; finished: boolean; closed: boolean }> = []
function stream(res: ServerResponse): void {
  const total = 16 * 2 ** 20
  const d = { written: 0, finished: false, closed: false }
  downloads.push(d)
  res.writeHead(200, { 'content-length': total })
  const piece = Buffer.alloc(16 * 1024, 'd')
  const tick = setInterval(() => {
    if (res.writableNeedDrain) return
    res.write(piece)
    d.written += piece.length
    if (d.written >= total) { clearInterval(tick); res.end() }
  }, 5)
  res.on('close', () => { clearInterval(tick); d.closed = true; d.finished = res.writableFinished })
}

/** The answer to a normal GET, and how long it took. */
async function normalGet(port: number, path: string): Promise<{ status: number; body: string; ms: number }> {
  return plainGet(port, path, 3_000)
}

interface Idle {
  readonly sockets: Socket[]
  /** Per socket: ms from connect until the balancer closed it (-1 while open), and what it sent. */
  readonly closedAfter: number[]
  readonly texts: string[]
  /** Closes every socket and waits until they are all closed. */
  close(): Promise<void>
}

/**
 * Opens `n` connections that send nothing, `batch` at a time, and resolves once every one has connected
 * (or failed). Bounded: a connection not up within 5 s counts as failed.
 */
async function openIdle(port: number, n: number, batch = 250): Promise<Idle> {
  const sockets: Socket[] = []
  const closedAfter: number[] = []
  const texts: string[] = []
  let ended = 0
  for (let start = 0; start < n; start += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - start) }, (_, k) => new Promise<void>((resolve) => {
      const i = start + k
      const socket = connect(port, '127.0.0.1')
      sockets.push(socket)
      closedAfter[i] = -1
      texts[i] = ''
      let connectedAt = Date.now()
      const timer = setTimeout(() => { socket.destroy(); resolve() }, 5_000)
      socket.on('connect', () => { connectedAt = Date.now(); clearTimeout(timer); resolve() })
      socket.on('data', (d: Buffer) => { texts[i] += d.toString('latin1') })
      socket.on('error', () => {})
      socket.on('close', () => {
        clearTimeout(timer)
        ended++
        if (closedAfter[i] === -1) closedAfter[i] = Date.now() - connectedAt
        resolve()
      })
    })))
  }
  return {
    sockets, closedAfter, texts,
    close: async () => {
      sockets.forEach((s, i) => {
        if (closedAfter[i] === -1) closedAfter[i] = -2 // closed by the client, not the balancer
        s.destroy()
      })
      await until(() => ended === n, 5_000, 'the idle sockets to close')
      sockets.length = 0
    },
  }
}

/** How many idle connections this machine allows: 2 fds each (both ends are in this process). */
function idleCount(t: TestContext, wanted: number): number {
  const room = Math.floor((fdLimit() - fds() - 256) / 2)
  if (room >= wanted) return wanted
  t.diagnostic(`ulimit -n is ${fdLimit()}: ${Math.max(room, 0)} idle connections instead of ${wanted}`)
  return Math.max(room, 50)
}

test('slowloris: heads sent a byte a second are cut at headerTimeout while a normal GET is served at once', async (t) => {
  const { seen, port, base } = await setup(t, { headerTimeout: '400ms' })
  const head = 'GET /slow HTTP/1.1\r\nhost: fulcrum.test\r\nx-drip: ' + 'z'.repeat(20) + '\r\n\r\n'
  // 20 clients, one byte a second each: the head would take about a minute.
  let connected = 0
  const slow = Array.from({ length: 20 }, () => rawExchange(port, head.split(''), { gapMs: 1_000, ms: 5_000, onSocket: () => { connected++ } }))
  await until(() => connected === 20, 2_000, 'the slow clients to connect')
  const normal = await normalGet(port, '/normal')
  assert.deepEqual([normal.status, normal.body], [200, 'echo GET /normal 0'])
  assert.ok(normal.ms < 1_000, `a normal GET took ${normal.ms} ms beside the slow clients`)
  for (const r of await Promise.all(slow)) {
    assert.ok(r.closed, 'the balancer closed the slow connection')
    assert.ok(r.ms < 2_000, `cut after ${r.ms} ms, not at headerTimeout (400 ms)`)
    assert.ok(r.text === '' || r.text.startsWith('HTTP/1.1 408 '), JSON.stringify(r.text))
  }
  assert.deepEqual(seen.map((s) => s.url), ['/warm', '/normal'], 'nothing of a slow head reached the target')
  await assertBackToBaseline(t, base, 'slowloris')
  assert.equal((await normalGet(port, '/after')).body, 'echo GET /after 0')
})

test('thousands of idle connections: a normal GET is still answered promptly; fds and heap return after', async (t) => {
  const { port, base } = await setup(t, { headerTimeout: '10s' })
  const n = idleCount(t, 2_000)
  const idle = await openIdle(port, n)
  t.after(() => idle.close())
  assert.equal(idle.closedAfter.filter((ms) => ms !== -1).length, 0, 'every idle connection is open')
  const normal = await normalGet(port, '/normal')
  t.diagnostic(`${n} idle connections open (fds ${fds()}): a GET took ${normal.ms} ms`)
  assert.deepEqual([normal.status, normal.body], [200, 'echo GET /normal 0'])
  assert.ok(normal.ms < 1_000, `a normal GET took ${normal.ms} ms`)
  assert.equal(idle.closedAfter.filter((ms) => ms !== -1).length, 0, 'the idle connections are still open')
  await idle.close()
  await assertBackToBaseline(t, base, `${n} idle connections`)
  assert.equal((await normalGet(port, '/after')).body, 'echo GET /after 0')
})

test('maxConnections: connections past the cap are closed at once; once the idle ones close, requests are served', async (t) => {
  const { port, base } = await setup(t, { headerTimeout: '10s' }, { maxConnections: 500 })
  const idle = await openIdle(port, 600)
  t.after(() => idle.close())
  await until(() => idle.closedAfter.filter((ms) => ms >= 0).length >= 100, 3_000, '100 connections past the cap to be closed')
  const refused = await normalGet(port, '/refused')
  const closed = idle.closedAfter.filter((ms) => ms >= 0)
  assert.equal(closed.length, 100, 'exactly the connections past 500 were closed')
  assert.ok(Math.max(...closed) < 1_000, `closed after ${Math.max(...closed)} ms: not at once`)
  assert.deepEqual(idle.texts.filter((x) => x !== ''), [], 'closed without an answer')
  assert.equal(refused.status, 0, 'at the cap, a new connection is closed too')
  assert.ok(refused.ms < 1_000, `refused after ${refused.ms} ms`)
  await idle.close()
  // The balancer counts a connection out when it sees it close: soon, not necessarily at once.
  let after = { status: 0, body: '', ms: 0 }
  await until(async () => (after = await normalGet(port, '/after')).status !== 0, 3_000, 'a request to be served again')
  assert.deepEqual([after.status, after.body], [200, 'echo GET /after 0'])
  await assertBackToBaseline(t, base, 'maxConnections')
})

test('idle connections that never send a byte are closed by the balancer at headerTimeout', async (t) => {
  // keepAliveTimeout shorter still: a connection that never sent a request is governed by headerTimeout
  // (as nginx's client_header_timeout), and Node checks it every headerTimeout / 4 here.
  const { port, base } = await setup(t, { headerTimeout: '500ms', keepAliveTimeout: '300ms' })
  const n = idleCount(t, 2_000)
  const idle = await openIdle(port, n)
  t.after(() => idle.close())
  await until(() => idle.closedAfter.every((ms) => ms >= 0), 6_000,
    `the balancer to close all ${n} idle connections (${idle.closedAfter.filter((ms) => ms < 0).length} still open)`)
  const times = idle.closedAfter
  const [first, last] = [Math.min(...times), Math.max(...times)]
  const answered = idle.texts.filter((x) => x.startsWith('HTTP/1.1 408 ')).length
  t.diagnostic(`${n} idle connections closed after ${first}..${last} ms; ${answered} got a 408 first`)
  assert.ok(first >= 250, `closed after ${first} ms: before any timeout passed`)
  // Unloaded, the last closes within about 1 s; a busy 2-core machine needs seconds to write 2,000 408s
  // and close both ends in one process. The bound is for a check that does not run (Node's default
  // connectionsCheckingInterval is 30 s) or a timeout that does not apply, not for speed.
  assert.ok(last < 5_000, `the last one closed after ${last} ms (headerTimeout 500 ms)`)
  assert.deepEqual(idle.texts.filter((x) => x !== '' && !x.startsWith('HTTP/1.1 408 ')), [], 'nothing but a 408')
  await idle.close()
  await assertBackToBaseline(t, base, 'idle connections at headerTimeout')
  assert.equal((await normalGet(port, '/after')).body, 'echo GET /after 0')
})

test('keepAliveTimeout: a connection idle after an answer is closed once keepAliveTimeout has passed', async (t) => {
  const { port } = await setup(t, { keepAliveTimeout: '300ms' })
  let answeredAt = 0
  const reply = await rawExchange(port, 'GET /k HTTP/1.1\r\nhost: fulcrum.test\r\n\r\n', {
    ms: 3_000,
    onSocket: (s) => s.on('data', () => { answeredAt ||= Date.now() }),
  })
  const idleFor = Date.now() - answeredAt
  assert.deepEqual(parseResponses(reply.text).map((r) => [r.status, r.body]), [[200, 'echo GET /k 0']])
  assert.ok(reply.closed, 'the balancer closed the idle connection')
  // nginx's keepalive_timeout: closed when it passes. Node holds the socket keepAliveTimeoutBuffer (1 s by
  // default) longer unless told otherwise; 500 ms of slack is for a busy machine, not for that second.
  assert.ok(idleFor < 800, `kept idle for ${idleFor} ms with keepAliveTimeout 300ms`)
})

test('client gone mid-upload: the target sees the request cut, not ended; fds and heap return', async (t) => {
  const { seen, port, base } = await setup(t, {})
  const length = 2 ** 20
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write(`POST /upload HTTP/1.1\r\nhost: fulcrum.test\r\ncontent-length: ${length}\r\n\r\n`)
  socket.write(Buffer.alloc(length / 2, 'u'))
  const upload = (): Seen | undefined => seen.find((s) => s.url === '/upload')
  await until(() => (upload()?.bytes ?? 0) >= 64 * 1024, 2_000, 'the target to receive part of the body')
  socket.destroy()
  await until(() => upload()?.closed === true, 2_000, 'the target\'s request to close')
  const cut = upload() as Seen
  assert.equal(cut.ended, false, 'the target must not see a complete (truncated) body')
  assert.ok(cut.bytes <= length / 2, `the target got ${cut.bytes} bytes; the client sent ${length / 2}`)
  await assertBackToBaseline(t, base, 'mid-upload')
  assert.equal((await normalGet(port, '/after')).body, 'echo GET /after 0')
})

test('client gone mid-download: the balancer aborts the target\'s response; fds and heap return', async (t) => {
  const { port, base } = await setup(t, {})
  downloads.length = 0
  let received = 0
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write('GET /download HTTP/1.1\r\nhost: fulcrum.test\r\n\r\n')
  socket.on('data', (d: Buffer) => { received += d.length })
  await until(() => received >= 128 * 1024, 3_000, 'the client to read 128 KiB')
  socket.destroy()
  await until(() => downloads[0]?.closed === true, 2_000, 'the target\'s response to close')
  const [d] = downloads
  assert.equal(d.finished, false, 'the target\'s response was cut, not sent to the end')
  assert.ok(d.written < 16 * 2 ** 20, `the target wrote ${d.written} bytes`)
  await assertBackToBaseline(t, base, 'mid-download')
  assert.equal((await normalGet(port, '/after')).body, 'echo GET /after 0')
})
