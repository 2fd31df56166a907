/**
 * What a fault must leave behind: nothing. The balancer runs in the test's process (startBalancer), so
 * /proc/self/fd counts its sockets, along with the targets' and clients' ones (closed by the time this is
 * checked), and the heap after a real gc is what is still referenced. The same measures as
 * faults-targets-2.test.ts, shared by the client-side fault suite.
 */
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { until } from './process.ts'

/** Open file descriptors of this process. */
export const fds = (): number => readdirSync('/proc/self/fd').length

/** The soft limit on open files (ulimit -n) of this process, or Infinity when /proc does not say. */
export function fdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
  const soft = line?.trim().split(/\s+/)[3]
  return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft)
}

// A real gc() (the test runner gives no per-file node flags): with it, heapUsed after a collection
// measures what is still referenced, not what is waiting to be collected.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

export async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setImmediate(r))
  }
  return process.memoryUsage().heapUsed
}

/**
 * What to allow above the baseline. fds: the client side closes at once, but the balancer closes its side
 * of a client connection when it reads the FIN, and pooled target connections when the group's keepAlive
 * passes; the wait is for those, and 5 covers a stray socket still in its close callback. Heap: loose on
 * purpose, since it also holds what the first requests initialised (JIT code, undici's pool, parsers); a
 * leak of a socket or a request per connection over a thousand connections would pass it.
 */
export const FD_SLACK = 5
export const HEAP_SLACK = 4 * 2 ** 20

export interface Baseline { readonly fds: number; readonly heap: number }

export async function baseline(): Promise<Baseline> {
  return { fds: fds(), heap: await heapAfterGc() }
}

/** Waits (up to `ms`) for the fd count to come back to the baseline, then checks the heap. */
export async function assertBackToBaseline(t: TestContext, base: Baseline, what: string, ms = 5_000): Promise<void> {
  await until(() => fds() <= base.fds + FD_SLACK, ms, `${what}: fds back to ${base.fds} + ${FD_SLACK} (now ${fds()})`)
  const heap = await heapAfterGc()
  t.diagnostic(`${what}: fds ${base.fds} -> ${fds()}, heap ${(base.heap / 2 ** 20).toFixed(1)} -> ${(heap / 2 ** 20).toFixed(1)} MiB`)
  assert.ok(heap - base.heap < HEAP_SLACK, `${what}: heap grew by ${((heap - base.heap) / 2 ** 20).toFixed(1)} MiB`)
}
