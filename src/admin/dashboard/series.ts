/**
 * Per-target live series for the dashboard: requests/s, p99 and in-flight over the last five minutes, one
 * point a second. A TargetSeriesSource gives cumulative numbers (a request count and latency histogram
 * buckets, as Prometheus keeps them); TargetSeries turns two consecutive samples into one point.
 */

/** One cumulative latency histogram bucket: requests that took at most `le` seconds (Infinity for +Inf). */
export interface Bucket {
  readonly le: number
  readonly count: number
}

/** One target's cumulative numbers at the moment of sampling. */
export interface TargetSample {
  readonly group: string
  readonly address: string
  /** Requests answered so far (cumulative). Absent when the source does not count requests. */
  readonly requests?: number
  /** The cumulative latency histogram (le in seconds, ascending, counts cumulative as Prometheus keeps them). */
  readonly buckets?: readonly Bucket[]
  /** Requests in flight now. Absent: the dashboard reads the data plane's in-flight counts itself. */
  readonly inFlight?: number
}

/** Where the dashboard's per-target numbers come from; called once a second while a dashboard is open. */
export interface TargetSeriesSource {
  /**
   * True when the source counts requests: a target it has no sample for has answered none yet (0/s).
   * Default: it counts when some sample has `requests`.
   */
  readonly counts?: boolean
  sample(): Promise<TargetSample[]>
}

/** One target's points, oldest first; `null` where a value is unknown (no requests, or not counted). */
export interface TargetPoints {
  readonly group: string
  readonly address: string
  readonly rps: Array<number | null>
  /** Milliseconds. */
  readonly p99: Array<number | null>
  readonly inFlight: Array<number | null>
}

/** Points of every target over the same timestamps (seconds since the epoch), as the SSE `series` event sends them. */
export interface SeriesFrame {
  readonly t: number[]
  readonly targets: TargetPoints[]
  /** False while the source counts no requests (req/s and p99 are then all null). */
  readonly counted: boolean
}

/** Five minutes at one point a second. */
export const SERIES_POINTS = 300

interface Ring {
  readonly group: string
  readonly address: string
  /** The last sample, to take differences from. */
  previous: TargetSample | undefined
  rps: Array<number | null>
  p99: Array<number | null>
  inFlight: Array<number | null>
}

const key = (group: string, address: string): string => `${group}\n${address}`

/** The last SERIES_POINTS points of every target sampled, on one shared time axis. */
export class TargetSeries {
  readonly #capacity: number
  #t: number[] = []
  #lastMs: number | undefined
  #counted = false
  readonly #rings = new Map<string, Ring>()

  constructor(capacity = SERIES_POINTS) {
    this.#capacity = capacity
  }

  /**
   * Adds one point per target from a sample taken at `nowMs` and returns the frame of just that point.
   * Targets absent from the sample are forgotten. The first sample of a target gives no rate (null).
   */
  add(samples: readonly TargetSample[], nowMs: number): SeriesFrame {
    const elapsed = this.#lastMs === undefined ? 0 : (nowMs - this.#lastMs) / 1000
    this.#lastMs = nowMs
    this.#t.push(Math.round(nowMs / 100) / 10)
    if (this.#t.length > this.#capacity) this.#t.shift()
    const length = this.#t.length
    const seen = new Set<string>()
    const frame: TargetPoints[] = []
    let counted = false
    for (const s of samples) {
      const k = key(s.group, s.address)
      if (seen.has(k)) continue
      seen.add(k)
      let ring = this.#rings.get(k)
      if (ring === undefined) {
        // A target that appears later has no points before now.
        const empty = (): null[] => new Array<null>(length - 1).fill(null)
        ring = { group: s.group, address: s.address, previous: undefined, rps: empty(), p99: empty(), inFlight: empty() }
        this.#rings.set(k, ring)
      }
      const point = pointBetween(ring.previous, s, elapsed)
      ring.previous = s
      if (s.requests !== undefined) counted = true
      for (const [list, value] of [[ring.rps, point.rps], [ring.p99, point.p99], [ring.inFlight, s.inFlight ?? null]] as const) {
        list.push(value)
        if (list.length > length) list.shift()
      }
      frame.push({ group: s.group, address: s.address, rps: [point.rps], p99: [point.p99], inFlight: [s.inFlight ?? null] })
    }
    for (const k of [...this.#rings.keys()]) if (!seen.has(k)) this.#rings.delete(k)
    this.#counted = counted
    return { t: this.#t.slice(-1), targets: frame, counted }
  }

  /** Everything kept, for a dashboard that just connected. */
  frame(): SeriesFrame {
    return {
      t: [...this.#t],
      targets: [...this.#rings.values()].map((r) => ({ group: r.group, address: r.address, rps: [...r.rps], p99: [...r.p99], inFlight: [...r.inFlight] })),
      counted: this.#counted,
    }
  }

  /**
   * Forgets points older than `maxAgeMs` before `nowMs` and the last sample (a gap: no rate across it).
   * Called when sampling resumes after no dashboard was open.
   */
  resume(nowMs: number, maxAgeMs = this.#capacity * 1000): void {
    this.#lastMs = undefined
    const oldest = (nowMs - maxAgeMs) / 1000
    let drop = 0
    while (drop < this.#t.length && this.#t[drop] < oldest) drop++
    this.#t = this.#t.slice(drop)
    for (const r of this.#rings.values()) {
      r.previous = undefined
      r.rps = r.rps.slice(drop)
      r.p99 = r.p99.slice(drop)
      r.inFlight = r.inFlight.slice(drop)
    }
  }
}

/** Requests/s and p99 (ms) between two cumulative samples `elapsed` seconds apart. */
export function pointBetween(before: TargetSample | undefined, after: TargetSample, elapsed: number): { rps: number | null; p99: number | null } {
  if (before === undefined || after.requests === undefined || before.requests === undefined || elapsed <= 0) return { rps: null, p99: null }
  // A count that went down means the counter restarted (a worker restarted): count from zero, as Prometheus' rate() does.
  const reset = after.requests < before.requests
  const requests = reset ? after.requests : after.requests - before.requests
  const rps = round(requests / elapsed, 2)
  if (after.buckets === undefined) return { rps, p99: null }
  const deltas = reset || before.buckets === undefined ? after.buckets : bucketDeltas(before.buckets, after.buckets)
  const p99 = quantile(0.99, deltas)
  return { rps, p99: p99 === null ? null : round(p99 * 1000, 2) }
}

function bucketDeltas(before: readonly Bucket[], after: readonly Bucket[]): Bucket[] {
  const old = new Map(before.map((b) => [b.le, b.count]))
  return after.map((b) => ({ le: b.le, count: Math.max(0, b.count - (old.get(b.le) ?? 0)) }))
}

/**
 * The q-quantile of cumulative buckets (le ascending), interpolated linearly within the bucket that holds
 * it, as Prometheus' histogram_quantile(): the first bucket starts at 0; a quantile in the +Inf bucket is
 * the highest finite bound. Null when the buckets count nothing.
 */
export function quantile(q: number, buckets: readonly Bucket[]): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le)
  const total = sorted.at(-1)?.count ?? 0
  if (total <= 0) return null
  const rank = q * total
  let lower = 0
  let below = 0
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lower
      if (b.count === below) return b.le
      return lower + (b.le - lower) * ((rank - below) / (b.count - below))
    }
    lower = b.le
    below = b.count
  }
  return lower
}

function round(n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}
