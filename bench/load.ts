/**
 * The load generators: wrk when installed (what the anchor numbers used), else autocannon in-process.
 * Every run is bounded by its duration; wrk is also killed if it overruns by 20 s.
 */
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { spawnManaged, stop } from './processes.ts'

export type LoadGen = 'wrk' | 'autocannon'

export interface LoadOptions {
  port: number
  seconds: number
  connections: number
}

export interface LoadResult {
  /** Completed requests (any status). */
  requests: number
  seconds: number
  rps: number
  p50Ms: number
  p99Ms: number
  /** Responses with an error status (wrk counts >= 400, autocannon non-2xx). */
  badStatus: number
  /** Socket errors and timeouts. */
  errors: number
  raw: unknown
}

const LUA = fileURLToPath(new URL('./wrk-report.lua', import.meta.url))

async function runWrk(o: LoadOptions, measured: boolean): Promise<LoadResult | undefined> {
  // -t1 -c50 as the anchor: one wrk thread leaves the other vCPU to the proxy and backends.
  const argv = ['wrk', '-t1', `-c${o.connections}`, `-d${o.seconds}s`]
  if (measured) argv.push('--latency', '-s', LUA)
  argv.push(`http://127.0.0.1:${o.port}/`)
  const wrk = spawnManaged('wrk', argv)
  const overrun = sleep((o.seconds + 20) * 1000).then(() => 'overrun')
  if ((await Promise.race([wrk.exited, overrun])) === 'overrun') {
    await stop(wrk)
    throw new Error(`wrk ran past ${o.seconds + 20}s; output:\n${wrk.stderrTail()}`)
  }
  if (!measured) return undefined
  await wrk.closed
  const line = wrk.stderrTail().split('\n').reverse().find((l) => l.startsWith('{'))
  if (!line) throw new Error(`wrk printed no JSON summary (exit ${wrk.exitedWith}):\n${wrk.stderrTail()}`)
  const j = JSON.parse(line) as Record<string, number>
  const seconds = j.duration_us / 1e6
  return {
    requests: j.requests,
    seconds,
    rps: j.requests / seconds,
    p50Ms: j.p50_us / 1000,
    p99Ms: j.p99_us / 1000,
    badStatus: j.status,
    errors: j.connect + j.read + j.write + j.timeout,
    raw: j,
  }
}

async function runAutocannon(o: LoadOptions): Promise<LoadResult> {
  const r = await autocannon({
    url: `http://127.0.0.1:${o.port}/`,
    connections: o.connections,
    duration: o.seconds,
    renderProgressBar: false,
    renderResultsTable: false,
  })
  return {
    requests: r.requests.total,
    seconds: r.duration,
    rps: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    badStatus: r.non2xx,
    errors: r.errors + r.timeouts,
    raw: { duration: r.duration, requests: r.requests, latency: r.latency, errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx },
  }
}

/** Load without measuring, so connection pools, JIT and caches are warm before the measured run. */
export async function warmUp(gen: LoadGen, o: LoadOptions): Promise<void> {
  if (o.seconds <= 0) return
  if (gen === 'wrk') await runWrk(o, false)
  else await runAutocannon(o)
}

export async function measure(gen: LoadGen, o: LoadOptions): Promise<LoadResult> {
  return gen === 'wrk' ? (await runWrk(o, true))! : runAutocannon(o)
}
