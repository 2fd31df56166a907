/**
 * The dashboard's live feed, `GET /api/v1/events` (server-sent events):
 *
 *   event: status   the status document (plus `reloads` and `removedTargets`), on connect and when it
 *                   changes; refreshed every 10 s when only check times or in-flight counts moved
 *   event: series   per-target requests/s, p99 (ms) and in-flight: the last five minutes on connect, then
 *                   one point a second (see SeriesFrame)
 *   : keepalive     a comment every 15 s
 *
 * It samples the control plane once a second only while at least one client is connected: with no
 * dashboard open there is no timer and no work at all.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ControlPlane } from '../../control/control-plane.ts'
import type { Context } from '../routes.ts'
import { statusView } from '../status.ts'
import { DashboardHistory } from './history.ts'
import { inFlightSource } from './prom-source.ts'
import { TargetSeries, type TargetSample, type TargetSeriesSource } from './series.ts'

export const TICK_MS = 1_000
export const KEEPALIVE_MS = 15_000
/** A status whose only changes are check times and in-flight counts is sent at most this often. */
export const REFRESH_MS = 10_000
/** A client this far behind (a stalled tab on a slow link) is cut; its browser reconnects. */
const MAX_BUFFERED = 1024 * 1024

const sources = new WeakMap<ControlPlane, TargetSeriesSource>()
const hubs = new WeakMap<Context, DashboardHub>()
let running = 0

/**
 * Sets where the dashboard's per-target requests/s and p99 come from (default: `inFlightSource(cp)`,
 * which knows in-flight counts only). Takes effect at the next sample, even with dashboards open.
 */
export function setSeriesSource(cp: ControlPlane, source: TargetSeriesSource): void {
  sources.set(cp, source)
}

/** The hub of one admin server (one Context), created on first use. */
export function hubFor(ctx: Context): DashboardHub {
  let hub = hubs.get(ctx)
  if (hub === undefined) {
    hub = new DashboardHub(ctx)
    hubs.set(ctx, hub)
  }
  return hub
}

/** How many hubs are sampling now (0 when no dashboard is open anywhere in this process), for tests. */
export function samplingHubs(): number {
  return running
}

export class DashboardHub {
  readonly history: DashboardHistory
  readonly #ctx: Context
  readonly #series = new TargetSeries()
  readonly #clients = new Set<ServerResponse>()
  #tick: NodeJS.Timeout | undefined
  #keepalive: NodeJS.Timeout | undefined
  #busy = false
  /** The latest status event (sent or not), for clients that connect. */
  #status: string | undefined
  #statusKey: string | undefined
  #statusSentAt = 0
  #lastError: string | undefined

  constructor(ctx: Context) {
    this.#ctx = ctx
    this.history = new DashboardHistory(ctx.cp)
  }

  get clients(): number {
    return this.#clients.size
  }

  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // Proxies in front of the admin API must not buffer the stream.
      'x-accel-buffering': 'no',
    })
    // A HEAD has no body to stream into: answer it without starting to sample.
    if (req.method === 'HEAD') { res.end(); return }
    this.#clients.add(res)
    const leave = (): void => {
      if (!this.#clients.delete(res)) return
      if (this.#clients.size === 0) this.#stop()
    }
    req.once('close', leave)
    res.once('close', leave)
    this.#write(res, 'retry: 2000\n\n')
    // The first client starts sampling (its first status comes with the first sample); later ones get
    // the latest status at once. Both get the points kept so far.
    if (this.#tick === undefined) this.#start()
    else if (this.#status !== undefined) this.#write(res, this.#status)
    this.#write(res, event('series', this.#series.frame()))
  }

  #start(): void {
    running++
    this.#series.resume(Date.now())
    this.#statusKey = undefined
    this.#status = undefined
    this.#tick = setInterval(() => { void this.#sample() }, TICK_MS)
    this.#keepalive = setInterval(() => { for (const c of this.#clients) this.#write(c, ': keepalive\n\n') }, KEEPALIVE_MS)
    void this.#sample()
  }

  #stop(): void {
    if (this.#tick === undefined) return
    running--
    clearInterval(this.#tick)
    clearInterval(this.#keepalive)
    this.#tick = undefined
    this.#keepalive = undefined
  }

  async #sample(): Promise<void> {
    // A slow data plane (workers busy) must not pile up samples.
    if (this.#busy) return
    this.#busy = true
    try {
      const { cp, drainingUntil } = this.#ctx
      const now = Date.now()
      this.history.sync()
      const source = sources.get(cp) ?? inFlightSource(cp)
      const [status, samples] = await Promise.all([statusView(cp, drainingUntil), source.sample()])
      if (this.#tick === undefined) return
      // A status document that records reloads itself (failed ones too) is taken as it is.
      const reloads = status.reloads ?? this.history.reloads().map((r) => ({ ...r, at: iso(r.at) }))
      const doc = { ...status, reloads, removedTargets: this.history.removed().map((r) => ({ ...r, at: iso(r.at) })) }
      this.#status = event('status', doc)
      const k = statusKey(doc)
      if (k !== this.#statusKey || now - this.#statusSentAt >= REFRESH_MS) {
        this.#statusKey = k
        this.#statusSentAt = now
        this.#broadcast(this.#status)
      }
      const counts = source.counts ?? samples.some((s) => s.requests !== undefined)
      this.#broadcast(event('series', this.#series.add(await this.#complete(samples, counts), now)))
      this.#lastError = undefined
    } catch (err) {
      const message = (err as Error)?.message ?? String(err)
      // Once per distinct failure, not once a second.
      if (message !== this.#lastError) this.#ctx.log.warn({ err }, 'dashboard: sampling failed; retrying every second')
      this.#lastError = message
    } finally {
      this.#busy = false
    }
  }

  /**
   * One sample per target the control plane has, in its order. A target the source has not seen yet (no
   * request so far) has answered 0 requests when the source counts requests at all; in-flight counts the
   * source does not give come from the data plane.
   */
  async #complete(samples: readonly TargetSample[], counted: boolean): Promise<TargetSample[]> {
    const { cp } = this.#ctx
    const bySource = new Map(samples.map((s) => [`${s.group}\n${s.address}`, s]))
    const records = cp.records()
    const inFlight = records.some((r) => bySource.get(`${r.group}\n${r.address}`)?.inFlight === undefined) ? await cp.dataPlane.inFlight() : {}
    return records.map((r) => {
      const s = bySource.get(`${r.group}\n${r.address}`)
      return {
        group: r.group,
        address: r.address,
        requests: s?.requests ?? (counted ? 0 : undefined),
        buckets: s?.buckets,
        inFlight: s?.inFlight ?? inFlight[r.address] ?? 0,
      }
    })
  }

  #broadcast(text: string): void {
    for (const c of this.#clients) this.#write(c, text)
  }

  #write(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_BUFFERED) { res.destroy(); return }
    res.write(text)
  }
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`
}

/** The status without what moves on its own (uptime, check times and latencies, in-flight counts). */
function statusKey(doc: Record<string, unknown>): string {
  return JSON.stringify(doc, (k, v) => {
    if (k === 'uptimeSeconds' || k === 'inFlight') return undefined
    if (k === 'lastCheck' && v !== null && typeof v === 'object') return { ok: (v as { ok: boolean }).ok, detail: (v as { detail: string }).detail }
    return v
  })
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
