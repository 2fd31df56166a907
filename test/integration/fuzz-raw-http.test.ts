/**
 * Raw-socket fuzzing of an HTTP listener: valid HTTP/1.1 requests (GET, POST with Content-Length, chunked
 * POST, pipelined pairs, odd but legal header values) with seeded mutations (flipped bytes, cuts, repeated
 * lines, CR/LF/NUL/DEL/high bytes, values up to 64 KiB, Content-Length and Transfer-Encoding mixed, garbage
 * methods and versions), sent to a balancer running in this process with two scripted backends (two, so that passive health applies).
 *
 * Checked: nothing throws (an uncaught exception would end this process and fail the test); every case ends
 * (its socket closes within its read timeout plus slack: a blocked event loop shows here); whatever comes back
 * starts with "HTTP/1.1 " and a three-digit status, and an unmutated request kept open gets no 5xx; no backend
 * gets a request with both Content-Length and Transfer-Encoding, nor a body whose length differs from its
 * Content-Length; no client input marks a (never failing) target passively down; and afterwards the targets'
 * in-flight counts are back to 0 and a plain GET gets 200 with the backend's body.
 *
 * Replay: the seed is printed; FUZZ_SEED=<seed> runs the same cases (case i uses mulberry32(seed + i)).
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { mulberry32 } from '../../src/balancing/testing.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'

const RUN_MS = 4_000
const MAX_CASES = 1_500
const CONCURRENCY = 24
/** How long a case waits for a first answer after its last write before it hangs up. */
const READ_MS = 500
/** Once bytes came back, how long a quiet connection is read before hanging up (the backend is local). */
const QUIET_MS = 100
/** Past READ_MS, how late a case may end: only a blocked event loop (or a leaked socket) takes longer. */
const SLACK_MS = 1_500
const BACKEND_BODY = 'backend-ok'

// ---- The corpus: valid requests ---------------------------------------------------------------------------------

const CORPUS: readonly string[] = [
  'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n',
  'GET /path/to?x=1&y=%20z HTTP/1.1\r\nHost: a.example\r\nUser-Agent: fuzz/1\r\nAccept: */*\r\n\r\n',
  'HEAD /h HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n',
  'POST /post HTTP/1.1\r\nHost: a.example\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
  'POST /post HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0\r\n\r\n',
  'PUT /put HTTP/1.1\r\nHost: a.example\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world',
  'POST /chunked HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
  'POST /chunked HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n',
  'GET /1 HTTP/1.1\r\nHost: a.example\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n',
  'POST /p1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n\r\nabcGET /p2 HTTP/1.1\r\nHost: a.example\r\n\r\n',
  'GET /h HTTP/1.1\r\nHost: a.example:8080\r\nX-Empty:\r\nX-Spaces:   padded   \r\nX-Utf8: \u00e9\u00e8\r\nCookie: a=1; b=2\r\n\r\n',
  'GET /h HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\nAccept-Encoding: gzip, br\r\nIf-None-Match: "x"\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n',
  'GET http://a.example/abs HTTP/1.1\r\nHost: a.example\r\n\r\n',
  'GET / HTTP/1.0\r\n\r\n',
  'DELETE /d HTTP/1.1\r\nHost: a.example\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok',
  'GET /respond HTTP/1.1\r\nHost: a.example\r\n\r\n',
]

// ---- Mutations -----------------------------------------------------------------------------------------------

type Random = () => number
const int = (r: Random, n: number) => Math.floor(r() * n)
const pick = <T>(r: Random, xs: readonly T[]): T => xs[int(r, xs.length)]

const INSERTS = ['\r', '\n', '\r\n', '\0', '\x7f', '\xff', '\x80', '\xc3\xa9', ' ', '\t', ':', '\r\n\r\n', '\x01', '\x1b']
const FRAMING = [
  'Content-Length: 5', 'Content-Length: 0', 'Content-Length: -1', 'Content-Length: 99999999999999999999',
  'Content-Length: 5, 5', 'Content-Length: 0x5', 'Content-Length:  3 ', 'Content-Length: 1e3',
  'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: chunked, gzip',
  'Transfer-Encoding: identity', 'Transfer-Encoding: CHUNKED', 'Transfer-Encoding : chunked', 'Transfer-Encoding:\tchunked',
  ' Transfer-Encoding: chunked', 'Transfer-Encoding: chunked\r\n foo', 'Content-Length\0: 5', 'Connection: close',
  'Connection: keep-alive, Upgrade', 'Upgrade: h2c', 'Expect: 100-continue', 'Host: other', 'Host:', 'Host: a b',
]
const METHODS = ['GET', 'POST', 'G\0ET', 'get', 'PRI', 'CONNECT', 'TRACE', 'PATCH', 'XYZZY', 'GET GET', '', 'P OST', '\xff\xfe']
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/11', 'http/1.1', 'HTTP/1.1 x', '', 'HTTP/1.', 'HTTP/9.9']
const CHUNK_BODIES = ['0\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n', 'ffffffffffffffff\r\nx\r\n', '-1\r\n', '5\r\nhel', '5 \r\nhello\r\n0\r\n\r\n', 'z\r\n\r\n', '0\r\n']

/** The request's lines (head and body kept apart), mutated `1..4` times. */
function mutate(r: Random, request: string): string {
  let text = request
  const edits = 1 + int(r, 4)
  for (let e = 0; e < edits; e++) {
    const lines = text.split('\r\n')
    const at = int(r, lines.length)
    switch (int(r, 12)) {
      case 0: { // flip a byte
        if (text.length === 0) break
        const i = int(r, text.length)
        text = text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << int(r, 8))) + text.slice(i + 1)
        break
      }
      case 1: text = text.slice(0, int(r, text.length + 1)); break // truncate
      case 2: lines.splice(at, 0, lines[at]); text = lines.join('\r\n'); break // repeat a line
      case 3: lines.splice(at, 1); text = lines.join('\r\n'); break // drop a line
      case 4: { // insert CR, LF, NUL, DEL, high bytes
        const i = int(r, text.length + 1)
        text = text.slice(0, i) + pick(r, INSERTS) + text.slice(i)
        break
      }
      case 5: { // a huge header value, up to 64 KiB
        const size = pick(r, [1_000, 8_000, 16_383, 16_385, 40_000, 65_536])
        lines.splice(Math.max(1, Math.min(at, lines.length - 2)), 0, `X-Big: ${'v'.repeat(size)}`)
        text = lines.join('\r\n')
        break
      }
      case 6: case 7: { // Content-Length / Transfer-Encoding, in any combination
        lines.splice(Math.max(1, Math.min(at, lines.length - 2)), 0, pick(r, FRAMING))
        text = lines.join('\r\n')
        break
      }
      case 8: { // garbage method
        const sp = lines[0].indexOf(' ')
        lines[0] = pick(r, METHODS) + (sp < 0 ? ` ${lines[0]}` : lines[0].slice(sp))
        text = lines.join('\r\n')
        break
      }
      case 9: { // garbage version
        const sp = lines[0].lastIndexOf(' ')
        lines[0] = `${sp < 0 ? lines[0] : lines[0].slice(0, sp)} ${pick(r, VERSIONS)}`
        text = lines.join('\r\n')
        break
      }
      case 10: { // swap two lines
        const b = int(r, lines.length)
        const tmp = lines[at]
        lines[at] = lines[b]
        lines[b] = tmp
        text = lines.join('\r\n')
        break
      }
      case 11: text += pick(r, CHUNK_BODIES); break // stray chunk framing after the request
    }
  }
  return text
}

interface Case {
  readonly index: number
  readonly bytes: Buffer
  /** Split points: the bytes go out in these pieces (a parser must not care). */
  readonly pieces: readonly Buffer[]
  /**
   * Half-close after writing, or keep the connection open. Node's server (httpAllowHalfOpen false) takes
   * an EOF as the client leaving and aborts requests not yet answered, so half-closed cases mostly test
   * that path; the others get their answers.
   */
  readonly end: boolean
  readonly mutated: boolean
}

function makeCase(seed: number, index: number): Case {
  const r = mulberry32((seed + index) >>> 0)
  const base = pick(r, CORPUS)
  // One case in eight is sent unmutated, so the valid paths keep being exercised alongside the broken ones.
  const mutated = r() >= 0.125
  const text = mutated ? mutate(r, base) : base
  const bytes = Buffer.from(text, 'latin1')
  const pieces: Buffer[] = []
  const cuts = int(r, 3)
  let from = 0
  for (let i = 0; i < cuts && from < bytes.length; i++) {
    const to = from + 1 + int(r, bytes.length - from)
    pieces.push(bytes.subarray(from, to))
    from = to
  }
  if (from < bytes.length || pieces.length === 0) pieces.push(bytes.subarray(from))
  return { index, bytes, pieces, end: r() < 0.3, mutated }
}

interface Outcome { readonly text: string; readonly ms: number; readonly timedOut: boolean }

function runCase(port: number, c: Case): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now()
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let timedOut = false
    let timer: NodeJS.Timeout | undefined
    const arm = () => {
      clearTimeout(timer)
      timer = setTimeout(() => { timedOut = true; socket.destroy() }, chunks.length === 0 ? READ_MS : QUIET_MS)
    }
    socket.on('data', (d: Buffer) => { chunks.push(d); arm() })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ text: Buffer.concat(chunks).toString('latin1'), ms: performance.now() - started, timedOut })
    })
    socket.on('connect', () => {
      for (const piece of c.pieces) socket.write(piece)
      if (c.end) socket.end()
      arm()
    })
  })
}

/** A backend that checks the framing of what it gets and answers BACKEND_BODY once the body is read. */
function checkingBackend(violations: string[]): Backend {
  return new Backend((req, res) => {
    const cl = req.headers['content-length']
    const te = req.headers['transfer-encoding']
    if (cl !== undefined && te !== undefined) violations.push(`${req.method} ${req.url}: both Content-Length (${cl}) and Transfer-Encoding (${te})`)
    let n = 0
    req.on('data', (d: Buffer) => { n += d.length })
    req.on('error', () => {})
    req.on('end', () => {
      if (cl !== undefined && String(n) !== cl) violations.push(`${req.method} ${req.url}: Content-Length ${cl}, body ${n} bytes`)
      res.end(BACKEND_BODY)
    })
  })
}

/**
 * Two targets (passive health applies only to a group of more than one), one plain route, one `respond`.
 * The backends never fail, so any passive failure counted against them is the balancer blaming a target
 * for what a client sent.
 */
async function setup(t: TestContext, violations: string[]) {
  const backends = [checkingBackend(violations), checkingBackend(violations)]
  for (const b of backends) {
    await b.start()
    t.after(() => b.close())
  }
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0',
      routes: [{ match: { path: '/respond' }, respond: { status: 200, body: 'here' } }, { forward: 'app' }],
    }],
    targetGroups: { app: { targets: backends.map((b) => b.address), passive: { maxFails: 1, failTimeout: '30s' } } },
  } as ConfigInput)
  return { backends, lb, port: lb.port('web') }
}

test('raw HTTP/1.1 fuzzing: no crash, no hang, well-formed answers, nothing malformed reaches or blames a target', async (t) => {
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32)
  t.diagnostic(`FUZZ_SEED=${seed}`)
  console.log(`fuzz-raw-http: FUZZ_SEED=${seed}`)
  const violations: string[] = []
  const { backends, lb, port } = await setup(t, violations)
  const states = backends.map((b) => lb.balancer.store.get(b.address))

  const deadline = performance.now() + RUN_MS
  const failures: string[] = []
  let next = 0
  let done = 0
  let answered = 0
  /** Cases running now; when a target is found down, one of these (or the case just ended) did it. */
  const active = new Set<Case>()
  const suspects = new Map<number, Case>()
  /** Each case's status (0: no answer), to replay the suspects that got a 5xx first. */
  const statusOf = new Map<number, number>()
  const show = (c: Case) => `case ${c.index} (FUZZ_SEED=${seed}): ${JSON.stringify(c.bytes.toString('latin1').slice(0, 400))}${c.bytes.length > 400 ? `… (${c.bytes.length} bytes)` : ''}`
  const worker = async () => {
    while (next < MAX_CASES && performance.now() < deadline && failures.length < 10) {
      const c = makeCase(seed, next++)
      active.add(c)
      const out = await runCase(port, c)
      active.delete(c)
      statusOf.set(c.index, Number(out.text.slice(9, 12)) || 0)
      done++
      if (out.ms > READ_MS + SLACK_MS) failures.push(`took ${out.ms.toFixed(0)} ms: ${show(c)}`)
      if (out.text.length > 0) {
        answered++
        if (!/^HTTP\/1\.1 \d{3} /.test(out.text)) failures.push(`answer ${JSON.stringify(out.text.slice(0, 120))}: ${show(c)}`)
      }
      if (states.some((s) => s.downUntil !== 0)) {
        // Concurrent cases: find out which one it was afterwards, one at a time. Bring the targets back now,
        // so that later cases are not answered 503 for it.
        for (const x of [c, ...active]) suspects.set(x.index, x)
        for (const s of states) { s.downUntil = 0; s.fails = 0 }
      }
      // A valid request, to targets that are up, on a connection the client keeps open: never a 5xx.
      const status = Number(out.text.slice(9, 12))
      if (!c.mutated && !c.end && status >= 500 && suspects.size === 0) failures.push(`a valid request got ${out.text.split('\r\n')[0]}: ${show(c)}`)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  t.diagnostic(`${done} cases, ${answered} answered, ${backends.map((b) => b.count).join(' + ')} requests reached the backends`)

  // Replay the suspects alone to name the inputs that made the balancer blame a target (for 3 s at most,
  // and until three are found).
  const replayUntil = performance.now() + 3_000
  let culprits = 0
  const byStatus = [...suspects.values()].sort((a, b) => Number((statusOf.get(b.index) ?? 0) >= 500) - Number((statusOf.get(a.index) ?? 0) >= 500))
  for (const c of byStatus) {
    if (performance.now() > replayUntil || culprits >= 3) break
    for (const s of states) { s.downUntil = 0; s.fails = 0 }
    const out = await runCase(port, c)
    const down = states.flatMap((s, i) => (s.downUntil !== 0 ? [i] : []))
    if (down.length > 0) culprits++
    if (down.length > 0) failures.push(`targets ${down.join(', ')} marked passively down (answer ${JSON.stringify(out.text.split('\r\n')[0])}) by ${show(c)}`)
  }
  if (suspects.size > 0 && culprits === 0) {
    failures.push(`a target was marked passively down during the run, by one of cases ${[...suspects.keys()].join(', ')} (FUZZ_SEED=${seed}); replayed alone, none of the first did it`)
  }
  for (const s of states) { s.downUntil = 0; s.fails = 0 }

  assert.deepEqual(failures, [], failures.join('\n'))
  assert.deepEqual(violations, [], `the backends got malformed requests (FUZZ_SEED=${seed}):\n${violations.join('\n')}`)
  assert.ok(done >= 100, `only ${done} cases ran`)

  // Every request counted in was counted out (proxy.ts's finally), whichever way its client went.
  for (let i = 0; i < 100 && states.some((s) => s.inFlight !== 0); i++) await new Promise((done) => setTimeout(done, 20))
  assert.deepEqual(states.map((s) => s.inFlight), [0, 0], `requests still counted in flight (FUZZ_SEED=${seed})`)

  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${lb.url('web')}/after`)
    assert.equal(res.status, 200)
    assert.equal(await res.text(), BACKEND_BODY)
  }
})

// Found by the run above (reported): undici refuses the request target "*" (UND_ERR_INVALID_ARG, "path must be
// an absolute URL or start with a slash") before anything is sent, proxy.ts classifies that as a target
// "error", counts it against the target and retries on the next one: one request marks every target of the
// group down for failTimeout, and every client then gets 503.
test('"OPTIONS * HTTP/1.1" is not held against the targets', async (t) => {
  const violations: string[] = []
  const { backends, lb, port } = await setup(t, violations)
  const out = await runCase(port, { index: 0, bytes: Buffer.alloc(0), pieces: [Buffer.from('OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n')], end: false, mutated: false })
  assert.match(out.text, /^HTTP\/1\.1 \d{3} /)
  assert.deepEqual(backends.map((b) => lb.balancer.store.get(b.address).downUntil), [0, 0], `answered ${out.text.split('\r\n')[0]}; targets marked down`)
  const res = await fetch(`${lb.url('web')}/after`)
  assert.equal(res.status, 200)
  assert.equal(await res.text(), BACKEND_BODY)
})
