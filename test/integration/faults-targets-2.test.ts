/**
 * The target-side fault suite, part 2: keep-alive connections closed just as the balancer reuses them,
 * slow targets against timeouts.responseHeader / timeouts.idle, a target killed and restarted under load,
 * and a mixed-fault run. After the load runs, the balancer's open file descriptors and heap must return to
 * their baseline: it runs in this process (startBalancer), so /proc/self/fd counts its sockets, along with
 * the targets' and clients' ones, which are closed by then.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Agent, request } from 'undici'
import { bodyFor, FaultyTarget, seeded, type Behaviour, type FaultyTargetOptions, type Script } from '../helpers/faulty-target.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'
import { startLoad } from '../helpers/load.ts'
import { until } from '../helpers/process.ts'

const fds = (): number => readdirSync('/proc/self/fd').length

// A real gc() for this file only (the test runner gives no per-file node flags): with it, heapUsed after a
// collection measures what is still referenced, so the heap check can be tight.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setImmediate(r))
  }
  return process.memoryUsage().heapUsed
}

/**
 * What to allow above the baseline. fds: the client side closes at once, but the balancer closes its side
 * of a client connection when it reads the FIN, and pooled target connections when timeouts.keepAlive
 * (300 ms here) passes; the wait is for those, and 5 covers a stray socket still in its close callback.
 * Heap: measured after a real gc and after dropping what the targets recorded; a 2,000-request fault run
 * leaves about 0.3 MiB (JIT code, caches) however long it runs, while a leak of even 2 KiB a request (less
 * than one request and response object pair) would pass 4 MiB.
 */
const FD_SLACK = 5
const HEAP_SLACK = 4 * 2 ** 20

interface Baseline { readonly fds: number; readonly heap: number }

/** Once the targets have no connection left (pools idle out), the fd count and heap to come back to. */
async function settle(targets: readonly FaultyTarget[], what: string): Promise<Baseline> {
  await until(() => targets.every((t) => t.open === 0), 5_000, `${what}: the balancer to close its target connections`)
  return { fds: fds(), heap: await heapAfterGc() }
}

async function assertBackToBaseline(t: TestContext, targets: readonly FaultyTarget[], base: Baseline): Promise<void> {
  // What the targets recorded is the test's memory, not the balancer's (about 1 KiB a request): drop it.
  for (const x of targets) x.received.length = 0
  await until(() => targets.every((x) => x.open === 0) && fds() <= base.fds + FD_SLACK, 5_000,
    `fds back to ${base.fds} + ${FD_SLACK} (now ${fds()}; target connections ${targets.map((x) => x.open).join(', ')})`)
  const heap = await heapAfterGc()
  t.diagnostic(`fds ${base.fds} -> ${fds()}, heap ${(base.heap / 2 ** 20).toFixed(1)} -> ${(heap / 2 ** 20).toFixed(1)} MiB`)
  assert.ok(heap - base.heap < HEAP_SLACK, `heap grew by ${((heap - base.heap) / 2 ** 20).toFixed(1)} MiB`)
}

async function targets(t: TestContext, ...specs: Array<[name: string, script?: Script, options?: FaultyTargetOptions]>): Promise<FaultyTarget[]> {
  const started = await Promise.all(specs.map(([name, script, options]) => new FaultyTarget(name, script, options).start()))
  t.after(() => Promise.all(started.map((s) => s.close())))
  return started
}

interface Tally {
  /** 200 with the body naming this very request. */
  ok: number
  /** Anything else, by description (a 200 naming another request shows here as "mixed"). */
  other: Record<string, number>
}

/**
 * A bounded load loop where every request has its own URL (/r/N), so each answer can be checked against
 * its request: `concurrency` clients send `total` requests (or stop after `maxMs`). `method(i)` picks the
 * method; POSTs carry body "b-N". `accept` may count a non-200 outcome as expected (returns its label).
 */
async function run(url: string, opts: { total: number; concurrency: number; maxMs: number; names: readonly string[];
  method?: (i: number) => 'GET' | 'POST'; accept?: (o: { status: number; body: string | undefined; error: string; path: string; method: string }) => string | undefined }): Promise<Tally & { sent: number }> {
  const agent = new Agent({ connections: opts.concurrency })
  const tally: Tally & { sent: number } = { ok: 0, other: {}, sent: 0 }
  const count = (label: string): void => { tally.other[label] = (tally.other[label] ?? 0) + 1 }
  const deadline = Date.now() + opts.maxMs
  const worker = async (): Promise<void> => {
    while (tally.sent < opts.total && Date.now() < deadline) {
      const i = tally.sent++
      const method = opts.method?.(i) ?? 'GET'
      const path = `/r/${i}`
      const sent = method === 'POST' ? `b-${i}` : ''
      let status = 0
      let body: string | undefined
      let error = ''
      try {
        const res = await request(`${url}${path}`, { dispatcher: agent, method, body: sent === '' ? undefined : sent, headersTimeout: 5_000, bodyTimeout: 5_000 })
        status = res.statusCode
        body = await res.body.text()
      } catch (err) {
        error = (err as { code?: string }).code ?? (err as Error).message
      }
      if (status === 200 && body !== undefined && opts.names.some((n) => body === bodyFor(n, method, path, sent))) tally.ok++
      else if (status === 200 && body !== undefined) count(`mixed: ${method} ${path} got ${JSON.stringify(body)}`)
      else count(opts.accept?.({ status, body, error, path, method }) ?? `${method} -> ${status} ${error} ${JSON.stringify(body)}`)
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker))
  await agent.close()
  return tally
}

test('keep-alive connections closed as they are reused: a second target hides it', async (t) => {
  // `racy` closes each idle keep-alive connection 0–5 ms after answering, without Connection: close or a
  // Keep-Alive hint: the balancer's pooled connection may die just as a request goes out on it.
  const [racy, ok] = await targets(t, ['racy', () => ({ do: 'answer' }), { idleClose: [0, 5], random: seeded(7) }], ['ok'])
  const lb = await startBalancer(t, simpleConfig([racy.address, ok.address], { passive: { maxFails: 0 } }))
  const tally = await run(lb.url(), { total: 600, concurrency: 8, maxMs: 10_000, names: ['racy', 'ok'] })
  assert.deepEqual(tally.other, {})
  assert.equal(tally.ok, 600)
  assert.ok(racy.received.some((r) => r.onConnection > 0), 'the balancer did reuse racy\'s connections')
})

test('keep-alive connections closed as they are reused: a lone target\'s GETs still succeed', async (t) => {
  // The common case: one target whose keep-alive timeout is shorter than the balancer's. A GET that meets
  // a pooled connection the target has just closed never got an answer; nginx retries it (on the same
  // target when it is the only one), so the client never sees the race.
  const [racy] = await targets(t, ['racy', () => ({ do: 'answer' }), { idleClose: [0, 5], random: seeded(11) }])
  const lb = await startBalancer(t, simpleConfig([racy.address]))
  const tally = await run(lb.url(), { total: 600, concurrency: 8, maxMs: 10_000, names: ['racy'] })
  assert.deepEqual(tally.other, {}, 'every GET answered 200 with its own body')
  assert.equal(tally.ok, 600)
})

test('FIN right after each keep-alive answer: a lone target\'s GETs all succeed on fresh connections', async (t) => {
  // The answer says nothing about closing, then the target closes at once: the FIN arrives before the
  // next request, so the balancer must see it and open a new connection rather than reuse a dead one.
  const [closing] = await targets(t, ['closing', () => ({ do: 'answer', then: 'close' })])
  const lb = await startBalancer(t, simpleConfig([closing.address]))
  const tally = await run(lb.url(), { total: 300, concurrency: 8, maxMs: 10_000, names: ['closing'] })
  assert.deepEqual(tally, { ok: 300, other: {}, sent: 300 })
  assert.equal(closing.connections, 300)
})

test('a slow target: under timeouts.responseHeader 504, over it 200 with the right body', async (t) => {
  const [slow] = await targets(t, ['slow', () => ({ do: 'answer', delayMs: 300 })])
  const [short, long] = await Promise.all([
    startBalancer(t, simpleConfig([slow.address], { timeouts: { responseHeader: '100ms' } })),
    startBalancer(t, simpleConfig([slow.address], { timeouts: { responseHeader: '2s' } })),
  ])
  const [timedOut, answered] = await Promise.all([run(short.url(), { total: 1, concurrency: 1, maxMs: 5_000, names: ['slow'] }),
    run(long.url(), { total: 1, concurrency: 1, maxMs: 5_000, names: ['slow'] })])
  assert.deepEqual(answered, { ok: 1, other: {}, sent: 1 })
  assert.deepEqual(timedOut, { ok: 0, other: { 'GET -> 504  "504 Gateway Timeout\\n"': 1 }, sent: 1 },
    'a 300 ms answer must not beat a 100 ms responseHeader timeout')
})

test('a body that pauses longer than timeouts.idle is cut; shorter pauses pass', async (t) => {
  // Headers at once, then half the body, then the rest 300 ms later.
  const [pausing] = await targets(t, ['pausing', () => ({ do: 'stall-body', resumeAfterMs: 300 })])
  const [short, long] = await Promise.all([
    startBalancer(t, simpleConfig([pausing.address], { timeouts: { idle: '100ms' } })),
    startBalancer(t, simpleConfig([pausing.address], { timeouts: { idle: '2s' } })),
  ])
  const agent = new Agent()
  t.after(() => agent.close())
  const [cut, whole] = await Promise.all([short, long].map(async (lb) => {
    const res = await request(`${lb.url()}/p`, { dispatcher: agent, headersTimeout: 5_000, bodyTimeout: 5_000 })
    const body = await res.body.text().then((b) => b, (e: { code?: string }) => `error ${e.code}`)
    return { status: res.statusCode, body }
  }))
  assert.deepEqual(whole, { status: 200, body: bodyFor('pausing', 'GET', '/p') })
  assert.equal(cut.status, 200)
  assert.match(cut.body, /^error /, `a 300 ms pause must not survive a 100 ms idle timeout; got ${JSON.stringify(cut.body)}`)
})

test('a target killed and restarted under load: GETs move to the other target; fds and heap return', async (t) => {
  const [a, b] = await targets(t, ['a'], ['b'])
  // A short failTimeout brings `a` back soon after its restart; a short keepAlive lets idle pools empty.
  const lb = await startBalancer(t, simpleConfig([a.address, b.address], {
    passive: { maxFails: 1, failTimeout: '300ms' }, timeouts: { keepAlive: '300ms' },
  }))
  const url = `${lb.url()}/load`
  const warm = startLoad(url, { concurrency: 6, maxRequests: 400, maxMs: 5_000 })
  const warmed = await warm.done
  assert.equal(warmed.ok, 400, JSON.stringify(warmed.failures))
  const base = await settle([a, b], 'after warm-up')

  const load = startLoad(url, { concurrency: 6, maxRequests: 20_000, maxMs: 10_000 })
  try {
    await load.waitFor(300)
    const port = a.port
    await a.kill()
    const bBefore = b.count
    await until(() => b.count >= bBefore + 300, 5_000, 'b to take the load while a is dead')
    await a.start(port)
    const aBefore = a.count
    await until(() => a.count >= aBefore + 50, 5_000, 'a to be back in the rotation after its restart')
  } finally {
    await load.stop()
  }
  const result = load.result
  t.diagnostic(`${result.sent} requests: ${JSON.stringify(result.bodies)}`)
  assert.deepEqual(result.failures, {}, 'every GET in flight when a died was retried on b')
  assert.deepEqual(Object.keys(result.bodies).sort(), [bodyFor('a', 'GET', '/load'), bodyFor('b', 'GET', '/load')])
  await assertBackToBaseline(t, [a, b], base)
})

/** One seeded fault per request to `chaos`; `ok` always answers. Hangs and stalls are rare: each costs a timeout. */
function chaos(seed: number): Script {
  const random = seeded(seed)
  return (req): Behaviour => {
    const x = random()
    if (x < 0.45) return { do: 'answer' }
    if (x < 0.55) return { do: 'reset' }
    if (x < 0.63) return { do: 'raw', bytes: 'HTTP/1.1 abc\r\n\r\n' }
    if (x < 0.71) return { do: 'raw', bytes: 'HTTP/1.1 200 OK\r\nbroken header\r\n\r\n' }
    if (x < 0.80) return { do: 'answer', status: 503, body: `503 for ${req.url}` }
    if (x < 0.90) return { do: 'answer', then: 'close' }
    if (x < 0.995) return { do: 'reset-mid-body', chunked: x < 0.945 }
    if (x < 0.9975) return { do: 'stall-body' }
    return { do: 'hang' }
  }
}

test('mixed faults under load: GETs answered by their own target or cut, POSTs never sent twice; fds and heap return', async (t) => {
  const [bad, ok] = await targets(t, ['chaos'], ['ok'])
  const lb = await startBalancer(t, simpleConfig([bad.address, ok.address], {
    // Passive health off so `chaos` keeps its share; a budget that never runs out so every safe retry happens.
    passive: { maxFails: 0 },
    retries: { on: ['error', 'timeout', 'invalid_header', 'http_503'], budget: { ratio: 10, minPerSecond: 1_000 } },
    timeouts: { responseHeader: '200ms', idle: '200ms', keepAlive: '300ms' },
  }))
  // Warm up with both targets well (pools, parsers, JIT), then turn the faults on.
  const warm = await run(lb.url(), { total: 200, concurrency: 8, maxMs: 10_000, names: ['chaos', 'ok'] })
  assert.equal(warm.ok, 200, JSON.stringify(warm.other))
  const base = await settle([bad, ok], 'after warm-up')

  // Remember which requests chaos cut after its headers: only those may reach the client cut.
  const midBody = new Set<string>()
  const faults = chaos(42)
  bad.script = (req, target) => {
    const b = faults(req, target)
    if (b.do === 'reset-mid-body' || b.do === 'stall-body') midBody.add(req.url)
    return b
  }
  const tally = await run(lb.url(), {
    total: 2_000, concurrency: 8, maxMs: 15_000, names: ['chaos', 'ok'],
    method: (i) => (i % 5 === 4 ? 'POST' : 'GET'),
    accept: ({ status, body, path, method }) => {
      if (status === 200 && body === undefined && midBody.has(path)) return 'cut after headers'
      if (method !== 'POST') return undefined
      if (status === 502 && body === '502 Bad Gateway\n') return 'POST 502'
      if (status === 504 && body === '504 Gateway Timeout\n') return 'POST 504'
      if (status === 503 && body === `503 for ${path}`) return 'POST 503 from chaos'
      return undefined
    },
  })
  t.diagnostic(`${tally.sent} requests: ${tally.ok} ok, ${JSON.stringify(tally.other)}`)
  assert.equal(tally.sent, 2_000, 'the run finished within its time bound')
  const allowed = new Set(['cut after headers', 'POST 502', 'POST 504', 'POST 503 from chaos'])
  const unexpected = Object.entries(tally.other).filter(([label]) => !allowed.has(label))
  assert.deepEqual(unexpected, [], 'GETs answer 200 with their own body, or are cut after the headers')
  assert.ok(tally.ok >= 1_600, `${tally.ok} of 2000 ok`)
  const posts = [...bad.received, ...ok.received].filter((r) => r.method === 'POST').map((r) => r.url)
  assert.equal(posts.length, new Set(posts).size, 'a POST reached a target at most once')
  await assertBackToBaseline(t, [bad, ok], base)
})
