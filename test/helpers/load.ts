/**
 * A bounded load loop for integration tests: `concurrency` real HTTP clients (undici, keep-alive) send
 * GETs until `stop()` is called, `maxRequests` were sent or `maxMs` passed, whichever comes first, and
 * count every outcome. Never unbounded.
 */
import { Agent, request } from 'undici'

export interface LoadResult {
  sent: number
  ok: number
  failed: number
  /** Failure descriptions (status or error code) with counts. */
  failures: Record<string, number>
  /** Response bodies with counts (bodies are short in these tests). */
  bodies: Record<string, number>
}

export interface LoadLoop {
  readonly result: LoadResult
  stop(): Promise<LoadResult>
  /** Resolves once at least n requests have completed. */
  waitFor(n: number): Promise<void>
  done: Promise<LoadResult>
}

export function startLoad(url: string, options: { concurrency?: number; maxRequests?: number; maxMs?: number } = {}): LoadLoop {
  const { concurrency = 8, maxRequests = 20_000, maxMs = 20_000 } = options
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 10_000 })
  const result: LoadResult = { sent: 0, ok: 0, failed: 0, failures: {}, bodies: {} }
  let stopped = false
  const deadline = Date.now() + maxMs
  const waiters: Array<{ n: number; resolve: () => void }> = []
  const settle = (): void => {
    const done = result.ok + result.failed
    for (let i = waiters.length - 1; i >= 0; i--) if (done >= waiters[i].n) { waiters[i].resolve(); waiters.splice(i, 1) }
  }
  const worker = async (): Promise<void> => {
    while (!stopped && result.sent < maxRequests && Date.now() < deadline) {
      result.sent++
      try {
        const res = await request(url, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 })
        const body = await res.body.text()
        if (res.statusCode === 200) {
          result.ok++
          result.bodies[body] = (result.bodies[body] ?? 0) + 1
        } else {
          result.failed++
          result.failures[`status ${res.statusCode}`] = (result.failures[`status ${res.statusCode}`] ?? 0) + 1
        }
      } catch (err) {
        result.failed++
        const code = (err as { code?: string }).code ?? (err as Error).message
        result.failures[code] = (result.failures[code] ?? 0) + 1
      }
      settle()
    }
  }
  const done = Promise.all(Array.from({ length: concurrency }, worker)).then(async () => {
    for (const w of waiters) w.resolve()
    await agent.close()
    return result
  })
  return {
    result,
    done,
    stop: () => { stopped = true; return done },
    waitFor: (n) => new Promise<void>((resolve) => { waiters.push({ n, resolve }); settle() }),
  }
}
