import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import { Backend, type Handler } from '../../test/helpers/backend.ts'
import { freePort, until } from '../../test/helpers/process.ts'
import type { HealthCheckConfig } from '../config/schema.ts'
import type { CheckResult, CheckTarget } from './checker.ts'
import { ActiveHealthChecker } from './active.ts'

const CHECK: HealthCheckConfig = {
  protocol: 'http', path: '/', port: 'traffic-port', interval: 100, timeout: 50,
  healthyThreshold: 2, unhealthyThreshold: 2, matcher: '200',
}

/** For tests about the verdict: a timeout no loaded machine reaches, and no second check to wait for. */
const ONCE = { interval: 10_000, timeout: 2_000 }

function target(port: number, check: Partial<HealthCheckConfig> = {}, group = 'api'): CheckTarget {
  return { group, address: `127.0.0.1:${port}`, host: '127.0.0.1', port, check: { ...CHECK, ...check, protocol: check.protocol ?? 'http' } }
}

interface Reported extends CheckResult {
  readonly group: string
  readonly address: string
}

/** A checker whose results are collected; `then` runs inside onResult, right after each one. */
function checker(t: TestContext, then?: (r: Reported) => void) {
  const results: Reported[] = []
  const c = new ActiveHealthChecker((group, address, result) => {
    const r = { group, address, ...result }
    results.push(r)
    then?.(r)
  })
  t.after(() => c.stop())
  const of = (address: string) => results.filter((r) => r.address === address)
  const first = async (address: string): Promise<Reported> => {
    await until(() => of(address).length > 0, 3_000, `a result for ${address}`)
    return of(address)[0]
  }
  return { c, results, of, first }
}

async function backend(t: TestContext, handler?: Handler): Promise<Backend> {
  const b = await new Backend(handler).start()
  t.after(() => b.close())
  return b
}

/**
 * A backend that records when each check arrived and how many checkers' connections were open at once:
 * one counts as open until the checker ends or resets it (not until our own late answer is written).
 */
async function timedBackend(t: TestContext, answer: (res: ServerResponse) => void = (res) => res.end('ok')) {
  const times: number[] = []
  let open = 0
  let maxOpen = 0
  const b = await backend(t, (req: IncomingMessage, res: ServerResponse) => {
    times.push(performance.now())
    open++
    maxOpen = Math.max(maxOpen, open)
    let gone = false
    const leave = (): void => { if (!gone) { gone = true; open-- } }
    req.socket.once('end', leave)
    req.socket.once('close', leave)
    req.resume()
    answer(res)
  })
  return { b, times, maxOpen: () => maxOpen }
}

/** Lets a window of time pass: only to show that something did not happen, never to wait for an event. */
const elapse = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('http: a matching status passes; the path, Host header and User-Agent are sent on a fresh connection', async (t) => {
  const b = await backend(t, (req, res) => { req.resume(); res.writeHead(302, { location: '/' }).end() })
  const { c, first } = checker(t)
  c.update([target(b.port, { path: '/healthz?deep=1', host: 'svc.internal', matcher: '200-299,302', ...ONCE })])
  const r = await first(`127.0.0.1:${b.port}`)
  assert.equal(r.ok, true)
  assert.equal(r.detail, 'status 302')
  assert.equal(r.group, 'api')
  assert.ok(r.latencyMs >= 0 && r.latencyMs < 1_000)
  assert.ok(Math.abs(r.at - Date.now()) < 5_000)
  const got = b.received[0]
  assert.equal(got.method, 'GET')
  assert.equal(got.url, '/healthz?deep=1')
  assert.equal(got.headers.host, 'svc.internal')
  assert.equal(got.headers['user-agent'], 'Fulcrum-HealthChecker/1')
  assert.equal(got.headers.connection, 'close')
})

test('http: the Host header defaults to the target address', async (t) => {
  const b = await backend(t)
  const { c, first } = checker(t)
  c.update([target(b.port, ONCE)])
  assert.equal((await first(b.address)).detail, 'status 200')
  assert.equal(b.received[0].headers.host, b.address)
})

test('http: a status outside the matcher fails and says what was expected', async (t) => {
  const b = await backend(t, (req, res) => { req.resume(); res.writeHead(500).end('boom') })
  const { c, first } = checker(t)
  c.update([target(b.port, { matcher: '200-299,302', ...ONCE })])
  const r = await first(b.address)
  assert.equal(r.ok, false)
  assert.equal(r.detail, 'status 500 (expected 200-299,302)')
})

test('http: a large body is cut off without failing the check', async (t) => {
  let closed = false
  const b = await backend(t, (req, res) => {
    req.resume()
    res.on('close', () => { closed = true })
    res.writeHead(200)
    const chunk = Buffer.alloc(16 * 1024, 'x')
    // Streams until the checker hangs up: a body that would never end.
    const write = (): void => { if (!res.destroyed && res.write(chunk)) setImmediate(write) }
    res.on('drain', write)
    write()
  })
  const { c, first, of } = checker(t)
  c.update([target(b.port, { timeout: 5_000, interval: 10_000 })])
  assert.equal((await first(b.address)).detail, 'status 200')
  await until(() => closed, 2_000, 'the checker to hang up long before its 5s timeout')
  assert.equal(of(b.address).length, 1)
})

test('http: check.port sends the check to another port than the traffic port', async (t) => {
  const traffic = await backend(t)
  const health = await backend(t)
  const { c, first } = checker(t)
  c.update([target(traffic.port, { port: health.port, path: '/status', ...ONCE })])
  const r = await first(traffic.address)
  assert.equal(r.detail, 'status 200')
  assert.equal(health.received[0].url, '/status')
  assert.equal(health.received[0].headers.host, traffic.address, 'Host stays the target address')
  assert.equal(traffic.count, 0)
})

test('http: a target that accepts but never answers times out', async (t) => {
  const b = await backend(t, (req) => { req.resume() })
  const { c, first } = checker(t)
  c.update([target(b.port, { interval: 1_000, timeout: 50 })])
  const r = await first(b.address)
  assert.equal(r.ok, false)
  assert.equal(r.detail, 'timeout after 50ms')
  assert.ok(r.latencyMs >= 45, `latency ${r.latencyMs}`)
})

test('http: a refused connection and a reset one are told apart', async (t) => {
  const port = await freePort()
  const b = await backend(t, (req) => { req.socket.resetAndDestroy() })
  const { c, first } = checker(t)
  c.update([target(port, ONCE), target(b.port, ONCE)])
  const refused = await first(`127.0.0.1:${port}`)
  assert.equal(refused.ok, false)
  assert.equal(refused.detail, 'connection refused')
  const reset = await first(b.address)
  assert.equal(reset.ok, false)
  assert.equal(reset.detail, 'connection reset')
})

test('tcp: an open port passes and a closed one fails', async (t) => {
  const b = await backend(t)
  const closed = await freePort()
  const { c, first } = checker(t)
  c.update([target(b.port, { protocol: 'tcp', ...ONCE }), target(closed, { protocol: 'tcp', ...ONCE })])
  const open = await first(b.address)
  assert.equal(open.ok, true)
  assert.equal(open.detail, 'connected')
  assert.equal(b.count, 0, 'a tcp check sends no request')
  await until(() => b.connections > 0, 1_000, 'the connection at the backend')
  const refused = await first(`127.0.0.1:${closed}`)
  assert.equal(refused.ok, false)
  assert.equal(refused.detail, 'connection refused')
})

test('one probe per interval: about ten in a second, never two at once', async (t) => {
  const { b, times, maxOpen } = await timedBackend(t, (res) => { setTimeout(() => res.end('ok'), 20) })
  const { c } = checker(t)
  const start = performance.now()
  c.update([target(b.port, { interval: 100, timeout: 50 })])
  await elapse(1_000)
  const inWindow = times.filter((at) => at - start < 1_000).length
  assert.ok(inWindow <= 12, `${inWindow} checks in 1s`)
  // Normally 10 or 11 in the second; a starved machine (2 cores, other suites) may delay a tick or two,
  // so the lower bound gets some slack: the ninth check within 1.3s.
  await until(() => times.length >= 9, 2_000, 'nine checks')
  assert.ok(times[8] - start < 1_300, `ninth check after ${Math.round(times[8] - start)}ms (${inWindow} in 1s)`)
  assert.equal(maxOpen(), 1)
  assert.ok(b.connections >= times.length, 'a fresh connection per check')
})

test('a probe that outlasts the interval is never overlapped: ticks are skipped instead', async (t) => {
  // timeout > interval, which the config should not allow; the checker guards anyway.
  const { b, times, maxOpen } = await timedBackend(t, () => {})
  const { c, of } = checker(t)
  c.update([target(b.port, { interval: 100, timeout: 250 })])
  await until(() => of(b.address).length >= 3, 3_000, 'three timeouts')
  assert.equal(maxOpen(), 1)
  // Each probe runs 250ms, so the ticks at +100 and +200 are skipped and the next is at +300.
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 200, `gap ${times[i] - times[i - 1]}ms`)
  assert.ok(of(b.address).every((r) => r.detail === 'timeout after 250ms'))
})

test('update(): unchanged targets keep their schedule instead of being checked again at once', async (t) => {
  const { b, times } = await timedBackend(t)
  const { c } = checker(t)
  const start = performance.now()
  c.update([target(b.port)])
  // The same settings in new objects, as every reload builds them, 25 times a second.
  const again = setInterval(() => c.update([target(b.port)]), 40)
  t.after(() => clearInterval(again))
  await elapse(600)
  clearInterval(again)
  const elapsed = performance.now() - start
  assert.ok(times.length >= 3 && times.length <= Math.floor(elapsed / 100) + 2, `${times.length} checks in ${Math.round(elapsed)}ms`)
})

test('update(): removed targets stop being probed, and their probe in flight is not reported', async (t) => {
  const kept = await backend(t)
  let answered = false
  const slow = await backend(t, (req, res) => {
    req.resume()
    res.on('close', () => { answered = true })
    setTimeout(() => res.end('late'), 100)
  })
  const gone = await backend(t)
  const { c, of } = checker(t)
  c.update([target(kept.port), target(gone.port), target(slow.port, { interval: 1_000, timeout: 500 })])
  await until(() => slow.count === 1 && gone.count >= 1, 2_000, 'the slow check to arrive')
  c.update([target(kept.port)])
  const goneChecks = gone.count
  const goneResults = of(gone.address).length
  await until(() => answered, 2_000, 'the slow backend to see its check end')
  const keptBefore = kept.count
  await until(() => kept.count >= keptBefore + 3, 2_000, 'three more checks of the kept target')
  assert.equal(slow.count, 1)
  assert.equal(of(slow.address).length, 0)
  assert.ok(gone.count <= goneChecks + 1, 'at most the check already sent when it was removed')
  assert.equal(of(gone.address).length, goneResults)
})

test('update(): a changed interval restarts that target at once', async (t) => {
  const { b, times } = await timedBackend(t)
  const { c } = checker(t)
  c.update([target(b.port, { interval: 10_000, timeout: 50 })])
  await until(() => times.length === 1, 2_000, 'the first check')
  const changed = performance.now()
  c.update([target(b.port, { interval: 100, timeout: 50 })])
  await until(() => times.length >= 4, 2_000, 'checks on the new interval')
  assert.ok(times[1] - changed < 1_000, 'checked at once, not after the old 10s interval')
})

test('stop(): no probe and no result after stop, and update() does nothing', async (t) => {
  const b = await backend(t)
  let c: ActiveHealthChecker | undefined
  const collected = checker(t, () => c?.stop())
  c = collected.c
  c.update([target(b.port)])
  await until(() => collected.results.length === 1, 2_000, 'the first check')
  c.update([target(b.port, { interval: 50 })])
  await elapse(300)
  assert.equal(b.count, 1)
  assert.equal(collected.results.length, 1)
})

test('stop(): a probe in flight is dropped', async (t) => {
  let answered = false
  const b = await backend(t, (req, res) => {
    req.resume()
    res.on('close', () => { answered = true })
    setTimeout(() => res.end('late'), 100)
  })
  const { c, results } = checker(t)
  c.update([target(b.port, { interval: 1_000, timeout: 500 })])
  await until(() => b.count === 1, 2_000, 'the check to arrive')
  c.stop()
  await until(() => answered, 2_000, 'the backend to see its check end')
  await elapse(50)
  assert.equal(results.length, 0)
})

test('a throwing onResult does not stop the checks', async (t) => {
  const b = await backend(t)
  let calls = 0
  const c = new ActiveHealthChecker(() => { calls++; throw new Error('consumer bug') })
  t.after(() => c.stop())
  c.update([target(b.port)])
  await until(() => calls >= 3, 2_000, 'three results')
})
