/**
 * The soak's load: `concurrency` keep-alive clients (one undici Pool with that many connections), each
 * sending one request after another until stopped: GETs to /soak/<id> and a share of POSTs with a small
 * random body. Every answer is checked against the request it belongs to (see targets.ts for the bodies);
 * every request ends in exactly one tally: answered (by status), errored (by code) or, if still open when
 * the load stops and its drain wait runs out, lost. No client timeouts: a request the balancer never
 * answers must show up as lost, not as an error we made up.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'

export type Method = 'GET' | 'POST'

export interface MixedUp {
  readonly id: string
  readonly method: Method
  readonly status: number
  readonly why: string
}

/** Counts per method. */
export class Tally {
  readonly sent = { GET: 0, POST: 0 }
  /** 200s that named their own request. */
  readonly verified = { GET: 0, POST: 0 }
  /** "200", "503", ...: answered requests by status. */
  readonly status = new Map<string, { GET: number; POST: number }>()
  /** Why a request failed: "503 target (chaos)", "502 balancer: Bad Gateway", "error UND_ERR_SOCKET: …". */
  readonly failures = new Map<string, { GET: number; POST: number }>()
  /** Which target answered the verified requests. */
  readonly perTarget = new Map<string, number>()
  readonly mixedUp: MixedUp[] = []
  errored = 0
  /** Milliseconds of verified 200 answers to GETs. */
  readonly getLatencies: number[] = []

  add(map: Map<string, { GET: number; POST: number }>, key: string, method: Method): void {
    const row = map.get(key) ?? { GET: 0, POST: 0 }
    row[method]++
    map.set(key, row)
  }
}

interface Open {
  readonly method: Method
  readonly startedAt: number
}

export interface LoadOptions {
  readonly origin: string
  readonly concurrency: number
  /** Share of requests that are POSTs, 0..1. */
  readonly postShare: number
  readonly random: () => number
}

const BODY = /^soak(-503)? ([\w-]+) (\S+)\n$/

export class Load {
  readonly tally = new Tally()
  /** Requests sent and not yet settled, by id. */
  readonly open = new Map<string, Open>()
  #nextId = 0
  #stopped = false
  readonly #pool: Pool
  readonly #opts: LoadOptions
  #loops: Promise<void>[] = []

  constructor(opts: LoadOptions) {
    this.#opts = opts
    this.#pool = new Pool(opts.origin, { connections: opts.concurrency, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 })
  }

  start(): void {
    this.#loops = Array.from({ length: this.#opts.concurrency }, () => this.#loop())
  }

  /** Stops sending, waits up to `drainMs` for the requests in flight; what is still open then is lost. */
  async stop(drainMs: number): Promise<Map<string, Open>> {
    this.#stopped = true
    await Promise.race([Promise.all(this.#loops), sleep(drainMs)])
    const lost = new Map(this.open)
    await this.#pool.destroy().catch(() => {})
    return lost
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) await this.#one()
  }

  async #one(): Promise<void> {
    const t = this.tally
    const id = `${++this.#nextId}`
    const method: Method = this.#opts.random() < this.#opts.postShare ? 'POST' : 'GET'
    const sentBody = method === 'POST' ? randomBytes(16 + Math.floor(this.#opts.random() * 2033)) : undefined
    const startedAt = performance.now()
    this.open.set(id, { method, startedAt })
    t.sent[method]++
    try {
      const res = await this.#pool.request({
        path: `/soak/${id}`,
        method,
        body: sentBody,
        headers: sentBody ? { 'content-type': 'application/octet-stream' } : {},
      })
      const body = Buffer.from(await res.body.arrayBuffer())
      const ms = performance.now() - startedAt
      this.open.delete(id)
      t.add(t.status, String(res.statusCode), method)
      const header = (name: string): string | undefined => {
        const v = res.headers[name]
        return Array.isArray(v) ? v.join(',') : v
      }
      const why = mixUp(id, method, res.statusCode, body, sentBody, header('x-soak-id'), header('x-soak-target'))
      if (why !== undefined) {
        t.mixedUp.push({ id, method, status: res.statusCode, why })
        return
      }
      if (res.statusCode === 200) {
        const target = header('x-soak-target') ?? '?'
        t.perTarget.set(target, (t.perTarget.get(target) ?? 0) + 1)
        t.verified[method]++
        if (method === 'GET') t.getLatencies.push(ms)
      } else {
        t.add(t.failures, failureCause(res.statusCode, body), method)
      }
    } catch (err) {
      this.open.delete(id)
      t.errored++
      t.add(t.failures, `error ${errorCode(err)}`, method)
    }
  }
}

/**
 * Why this answer does not belong to this request, or undefined when it does. A 200 must carry the
 * request's own id and (POST) its exact body; any answer that claims to come from a target must name
 * this request. The balancer's own error pages (502/503/504) name no request and are failures, not mix-ups.
 */
function mixUp(id: string, method: Method, status: number, body: Buffer, sent: Buffer | undefined, hId: string | undefined, hTarget: string | undefined): string | undefined {
  if (hId !== undefined && hId !== id) return `x-soak-id ${hId}, expected ${id}`
  if (status === 200 && method === 'POST') {
    if (hId === undefined) return 'no x-soak-id on a 200'
    if (sent === undefined || !body.equals(sent)) return `echoed body differs (${body.length} bytes back, ${sent?.length} sent)`
    return undefined
  }
  const text = body.toString('latin1')
  const m = BODY.exec(text)
  if (m === null) {
    if (status === 200 || text.startsWith('soak')) return `unexpected body ${JSON.stringify(text.slice(0, 80))}`
    return undefined
  }
  const [, is503, bodyId, bodyTarget] = m
  if (bodyId !== id) return `body names request ${bodyId}, expected ${id}`
  if (hTarget !== undefined && bodyTarget !== hTarget) return `body names target ${bodyTarget}, header ${hTarget}`
  if ((is503 !== undefined) !== (status === 503)) return `status ${status} with body ${JSON.stringify(text.trim())}`
  return undefined
}

function failureCause(status: number, body: Buffer): string {
  const text = body.toString('utf8').trim()
  if (text.startsWith('soak-503 ')) return `${status} from a target (chaos: unavailable)`
  const first = text.split('\n')[0].slice(0, 60)
  return `${status} from the balancer: ${first || '(empty body)'}`
}

function errorCode(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } }
  const code = e.code ?? e.name ?? 'Error'
  const cause = e.cause?.code !== undefined && e.cause.code !== code ? ` (cause ${e.cause.code})` : ''
  return `${code}${cause}: ${(e.message ?? '').slice(0, 60)}`
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
