/**
 * The target-side fault suite, part 1: targets that refuse, never answer, stall or reset a body, answer
 * malformed bytes or 5xx. For each, what the client sees: a retry hides the fault when the request is safe
 * and nothing reached the client yet; otherwise a clean 502/504, or a cut response once headers went out —
 * never a hang, never another request's answer. Every correct body names its request (bodyFor), so a
 * mixed-up answer fails the comparison. Part 2 (keep-alive races, slow targets, crashes under load, fds and
 * memory) is faults-targets-2.test.ts.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'undici'
import { bodyFor, FaultyTarget, type Behaviour, type Script } from '../helpers/faulty-target.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'
import { freePort } from '../helpers/process.ts'

interface Outcome {
  readonly status: number
  /** The whole body, or undefined when reading it failed. */
  readonly body: string | undefined
  /** The error code when the request or its body failed, else ''. */
  readonly error: string
}

/**
 * A client for one test (its own connections, closed after it). Returns what the client saw and how long
 * it took; a hang would show as a *_TIMEOUT error after 5 s, which no assertion accepts.
 */
function client(t: TestContext) {
  const agent = new Agent({ connections: 16 })
  t.after(() => agent.close())
  return async (url: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Outcome & { ms: number }> => {
    const started = Date.now()
    let status = 0
    try {
      const res = await request(url, {
        dispatcher: agent, method: (opts.method ?? 'GET') as 'GET', body: opts.body, headers: opts.headers,
        headersTimeout: 5_000, bodyTimeout: 5_000,
      })
      status = res.statusCode
      const body = await res.body.text()
      return { status, body, error: '', ms: Date.now() - started }
    } catch (err) {
      const e = err as { code?: string; message: string }
      return { status, body: undefined, error: e.code ?? e.message, ms: Date.now() - started }
    }
  }
}

const seen = ({ status, body, error }: Outcome): Outcome => ({ status, body, error })
const answered = (status: number, body: string): Outcome => ({ status, body, error: '' })
/** The balancer's own short error answers. */
const BAD_GATEWAY = answered(502, '502 Bad Gateway\n')
const GATEWAY_TIMEOUT = answered(504, '504 Gateway Timeout\n')

async function targets(t: TestContext, ...specs: Array<[name: string, script?: Script]>): Promise<FaultyTarget[]> {
  const started = await Promise.all(specs.map(([name, script]) => new FaultyTarget(name, script).start()))
  t.after(() => Promise.all(started.map((s) => s.close())))
  return started
}

const always = (b: Behaviour): Script => () => b
/** Passive health off, so that a faulty target keeps its turn in the rotation. */
const noPassive = { passive: { maxFails: 0 } }

test('refused: GET and POST move to a healthy target (the connection was never made); alone, 502', async (t) => {
  const send = client(t)
  const dead = `127.0.0.1:${await freePort()}`
  const [ok] = await targets(t, ['ok'])
  const lb = await startBalancer(t, simpleConfig([dead, ok.address], noPassive))
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(seen(await send(`${lb.url()}/get/${i}`)), answered(200, bodyFor('ok', 'GET', `/get/${i}`)))
  }
  for (let i = 0; i < 4; i++) {
    const post = await send(`${lb.url()}/post/${i}`, { method: 'POST', body: `payload-${i}` })
    assert.deepEqual(seen(post), answered(200, bodyFor('ok', 'POST', `/post/${i}`, `payload-${i}`)))
  }
  assert.equal(ok.count, 8)
  const alone = await startBalancer(t, simpleConfig([dead]))
  const r = await send(`${alone.url()}/x`)
  assert.deepEqual(seen(r), BAD_GATEWAY)
  assert.ok(r.ms < 2_000, `answered after ${r.ms} ms`)
})

test('never answers: a GET times out (responseHeader) and moves on; a POST gets 504 and is not re-sent', async (t) => {
  const send = client(t)
  const [hang, ok] = await targets(t, ['hang', always({ do: 'hang' })], ['ok'])
  const group = { ...noPassive, timeouts: { responseHeader: '200ms' } }
  // Three balancers side by side, so the timeouts run at once; round robin sends each one's first request to `hang`.
  const [forGet, forPost, alone] = await Promise.all([
    startBalancer(t, simpleConfig([hang.address, ok.address], group)),
    startBalancer(t, simpleConfig([hang.address, ok.address], group)),
    startBalancer(t, simpleConfig([hang.address], group)),
  ])
  const [get, post, lone] = await Promise.all([
    send(`${forGet.url()}/g`),
    send(`${forPost.url()}/p`, { method: 'POST', body: 'once' }),
    send(`${alone.url()}/a`),
  ])
  assert.deepEqual(seen(get), answered(200, bodyFor('ok', 'GET', '/g')))
  assert.ok(get.ms >= 150 && get.ms < 2_500, `GET answered after ${get.ms} ms`)
  assert.deepEqual(seen(post), GATEWAY_TIMEOUT)
  assert.ok(post.ms >= 150 && post.ms < 2_500, `POST answered after ${post.ms} ms`)
  assert.deepEqual(seen(lone), GATEWAY_TIMEOUT)
  assert.deepEqual(hang.received.map((r) => r.url).sort(), ['/a', '/g', '/p'])
  assert.deepEqual(ok.received.map((r) => r.url), ['/g'], 'the POST reached `hang`: it must not be sent to another target')
})

test('headers then a stalled body: the client gets the headers and a cut body after timeouts.idle, no retry', async (t) => {
  const send = client(t)
  await Promise.all([false, true].map(async (chunked) => {
    const [stall, ok] = await targets(t, ['stall', always({ do: 'stall-body', chunked })], ['ok'])
    const lb = await startBalancer(t, simpleConfig([stall.address, ok.address], { ...noPassive, timeouts: { idle: '200ms' } }))
    const r = await send(`${lb.url()}/stall`)
    assert.equal(r.status, 200, `chunked ${chunked}: the headers went through`)
    assert.equal(r.body, undefined, `chunked ${chunked}: the body must not look complete`)
    assert.notEqual(r.error, 'UND_ERR_BODY_TIMEOUT', `chunked ${chunked}: the client waited for its own timeout (a hang)`)
    assert.ok(r.ms >= 150 && r.ms < 2_500, `chunked ${chunked}: cut after ${r.ms} ms`)
    assert.equal(ok.count, 0, 'headers were sent: nothing may be retried')
    // The balancer still serves: the next request (round robin) goes to `ok`.
    assert.deepEqual(seen(await send(`${lb.url()}/next`)), answered(200, bodyFor('ok', 'GET', '/next')))
  }))
})

test('reset mid-body: the client sees a cut response, never a complete or another target\'s body', async (t) => {
  const send = client(t)
  for (const chunked of [false, true]) {
    const [reset, ok] = await targets(t, ['reset', always({ do: 'reset-mid-body', chunked })], ['ok'])
    const lb = await startBalancer(t, simpleConfig([reset.address, ok.address], noPassive))
    const r = await send(`${lb.url()}/cut`)
    assert.equal(r.status, 200, `chunked ${chunked}`)
    assert.equal(r.body, undefined, `chunked ${chunked}: the body must not look complete`)
    assert.ok(!r.error.endsWith('_TIMEOUT'), `chunked ${chunked}: ${r.error}`)
    assert.ok(r.ms < 2_000, `chunked ${chunked}: cut after ${r.ms} ms`)
    assert.equal(ok.count, 0, 'headers were sent: nothing may be retried')
    assert.deepEqual(seen(await send(`${lb.url()}/next`)), answered(200, bodyFor('ok', 'GET', '/next')))
  }
})

test('reset before the headers: a GET is retried; a POST gets 502 unless Idempotency-Key or nonIdempotent allow it', async (t) => {
  const send = client(t)
  const [reset, ok] = await targets(t, ['reset', always({ do: 'reset' })], ['ok'])
  const lb = await startBalancer(t, simpleConfig([reset.address, ok.address], noPassive))
  assert.deepEqual(seen(await send(`${lb.url()}/g`)), answered(200, bodyFor('ok', 'GET', '/g')))
  assert.equal(reset.count, 1)
  await send(`${lb.url()}/turn`) // round robin points at `reset` again

  const post = await send(`${lb.url()}/p1`, { method: 'POST', body: 'only-once' })
  assert.deepEqual(seen(post), BAD_GATEWAY)
  assert.equal(reset.count, 2)
  assert.equal(ok.received.filter((r) => r.method === 'POST').length, 0, 'the POST reached `reset`: it must not be re-sent')
  await send(`${lb.url()}/turn2`)

  const keyed = await send(`${lb.url()}/p2`, { method: 'POST', body: 'keyed', headers: { 'idempotency-key': 'k-1' } })
  assert.deepEqual(seen(keyed), answered(200, bodyFor('ok', 'POST', '/p2', 'keyed')), 'an Idempotency-Key allows the retry, body intact')
  assert.equal(reset.count, 3)

  const lenient = await startBalancer(t, simpleConfig([reset.address, ok.address], { ...noPassive, retries: { nonIdempotent: true } }))
  const retried = await send(`${lenient.url()}/p3`, { method: 'POST', body: 'again' })
  assert.deepEqual(seen(retried), answered(200, bodyFor('ok', 'POST', '/p3', 'again')))
  assert.equal(reset.count, 4)

  const alone = await startBalancer(t, simpleConfig([reset.address]))
  assert.deepEqual(seen(await send(`${alone.url()}/a`)), BAD_GATEWAY)
})

/** Answers that no HTTP/1.1 parser may accept; each is followed by a well-formed answer that must never reach a client. */
const MALFORMED: ReadonlyArray<readonly [what: string, bytes: string]> = [
  ['a status that is not a number', 'HTTP/1.1 abc\r\ncontent-length: 0\r\n\r\n'],
  ['no status line at all', 'hello there\r\n\r\n'],
  ['a header line without a colon', 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nno colon here\r\n\r\nWRONG'],
  ['a control byte in a header value', 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-bad: a\x01b\r\n\r\nWRONG'],
  ['a space before the colon', 'HTTP/1.1 200 OK\r\ncontent-length : 5\r\n\r\nWRONG'],
  ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nWRONG!'],
  ['Content-Length and chunked together', 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nWRONG\r\n0\r\n\r\n'],
]
const SMUGGLED = 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nSMUGGLED'

test('malformed answers: 502 by default; with invalid_header a GET moves on; the connection is never reused', async (t) => {
  const send = client(t)
  for (const [what, bytes] of MALFORMED) {
    // The target keeps the connection open and queues a well-formed answer behind the bad one: a balancer
    // that kept using the connection would hand SMUGGLED to the next request.
    const [bad] = await targets(t, ['bad', (req) => (req.index === 0
      ? { do: 'raw', bytes: bytes + SMUGGLED, then: 'keep' }
      : { do: 'answer' })])
    const lb = await startBalancer(t, simpleConfig([bad.address]))
    const r = await send(`${lb.url()}/m`)
    assert.deepEqual(seen(r), BAD_GATEWAY, what)
    assert.ok(r.ms < 2_000, `${what}: answered after ${r.ms} ms`)
    // The bad connection is gone; a new one gets a correct answer to *this* request.
    assert.deepEqual(seen(await send(`${lb.url()}/after`)), answered(200, bodyFor('bad', 'GET', '/after')), what)
  }
  const [bad, ok] = await targets(t, ['bad', always({ do: 'raw', bytes: MALFORMED[0][1] })], ['ok'])
  const retrying = await startBalancer(t, simpleConfig([bad.address, ok.address],
    { ...noPassive, retries: { on: ['error', 'timeout', 'invalid_header'] } }))
  assert.deepEqual(seen(await send(`${retrying.url()}/g`)), answered(200, bodyFor('ok', 'GET', '/g')))
  assert.equal(bad.count, 1)
  await send(`${retrying.url()}/turn`)
  assert.deepEqual(seen(await send(`${retrying.url()}/p`, { method: 'POST', body: 'b' })), BAD_GATEWAY,
    'a POST that reached the target is not retried on invalid_header either')
  assert.equal(ok.received.filter((r) => r.method === 'POST').length, 0)
})

test('valid headers, then a malformed body: the client connection is cut, never left hanging or fed junk', async (t) => {
  const send = client(t)
  const [bad] = await targets(t, ['bad', (req) => (req.index === 0
    ? { do: 'raw', bytes: `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nWRONG\r\n0\r\n\r\n${SMUGGLED}`, then: 'keep' }
    : { do: 'answer' })])
  const lb = await startBalancer(t, simpleConfig([bad.address]))
  const r = await send(`${lb.url()}/m`)
  // The balancer had taken the headers (it may not have flushed them yet): the client sees a cut
  // response or a closed connection, not a body, and not after its own timeout.
  assert.equal(r.body, undefined, `got ${r.status} ${r.body}`)
  assert.ok(r.error !== '' && !r.error.endsWith('_TIMEOUT'), r.error)
  assert.ok(r.ms < 2_000, `cut after ${r.ms} ms`)
  assert.deepEqual(seen(await send(`${lb.url()}/after`)), answered(200, bodyFor('bad', 'GET', '/after')))
})

test('a body longer than its Content-Length: the surplus never becomes the next request\'s answer', async (t) => {
  const send = client(t)
  const [over] = await targets(t, ['over', (req) => {
    if (req.onConnection > 0) return { do: 'answer' }
    const body = bodyFor('over', req.method, req.url)
    return { do: 'raw', bytes: `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}${SMUGGLED}`, then: 'keep' }
  }])
  const lb = await startBalancer(t, simpleConfig([over.address]))
  for (let i = 0; i < 6; i++) {
    const r = await send(`${lb.url()}/o/${i}`)
    // The first answer itself may be passed on or refused (502); what matters is that no answer is SMUGGLED.
    if (r.status === 200) assert.deepEqual(seen(r), answered(200, bodyFor('over', 'GET', `/o/${i}`)), `request ${i}`)
    else assert.deepEqual(seen(r), BAD_GATEWAY, `request ${i}`)
  }
})

test('500 and 503 pass through by default; listed in retries.on, a GET moves on and a POST does not', async (t) => {
  const send = client(t)
  const [e500, e503, ok] = await targets(t,
    ['e500', (req) => ({ do: 'answer', status: 500, body: `500 for ${req.url}` })],
    ['e503', (req) => ({ do: 'answer', status: 503, body: `503 for ${req.url}` })],
    ['ok'])
  const plain = await startBalancer(t, simpleConfig([e500.address, e503.address], noPassive))
  assert.deepEqual(seen(await send(`${plain.url()}/a`)), answered(500, '500 for /a'))
  assert.deepEqual(seen(await send(`${plain.url()}/b`)), answered(503, '503 for /b'))

  const group = { ...noPassive, retries: { on: ['error', 'timeout', 'http_500', 'http_503'] } }
  const retrying = await startBalancer(t, simpleConfig([e503.address, ok.address], group))
  assert.deepEqual(seen(await send(`${retrying.url()}/c`)), answered(200, bodyFor('ok', 'GET', '/c')))
  assert.equal(e503.received.at(-1)?.url, '/c')
  await send(`${retrying.url()}/turn`)
  assert.deepEqual(seen(await send(`${retrying.url()}/d`, { method: 'POST', body: 'x' })), answered(503, '503 for /d'),
    'a POST that reached a target is answered with that target\'s status, not re-sent')
  assert.equal(ok.received.filter((r) => r.method === 'POST').length, 0)

  // Every target fails: the last answer is the client's, as nginx passes it on.
  const allFail = await startBalancer(t, simpleConfig([e500.address, e503.address], group))
  const last = await send(`${allFail.url()}/e`)
  assert.ok([500, 503].includes(last.status), `status ${last.status}`)
  assert.equal(last.body, `${last.status} for /e`)
})
