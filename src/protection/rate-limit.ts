/**
 * Rate limits with nginx limit_req's arithmetic: per key, an `excess` (in thousandths of a request) that
 * leaks at the rate and grows by one request per request. Above `burst` a request is refused; above
 * `delay` it is held until the excess it adds has leaked (spaced at the rate), unless `nodelay`.
 * A key's first request finds an empty bucket. A zone holds the buckets of one rate; it outlives reloads
 * (as nginx keeps a zone whose size and rate are unchanged), so a reload does not reset anyone's limit.
 *
 * With several workers each keeps its own buckets, and tells the others what it let through: every
 * `absorb` adds requests another worker accepted (see rate-limit-sync.ts). Between two exchanges a worker
 * decides on its own, so the limit holds across workers within what passes in one exchange interval.
 */

interface Bucket {
  /** Thousandths of a request above the rate. */
  excess: number
  /** When `excess` was last brought up to date (ms). */
  last: number
}

export type RateDecision =
  | { readonly kind: 'pass'; readonly delayMs: number }
  | { readonly kind: 'reject'; readonly retryAfterS: number }

export class RateLimitZone {
  readonly name: string
  /** Thousandths of a request per second (nginx's ctx->rate). */
  readonly rate: number
  readonly maxKeys: number
  readonly #buckets = new Map<string, Bucket>()
  /** Requests let through per key since the last exchange with the other workers; undefined when alone. */
  #accepted: Map<string, number> | undefined

  constructor(name: string, perSecond: number, maxKeys: number) {
    this.name = name
    this.rate = perSecond * 1000
    this.maxKeys = maxKeys
  }

  /** The excess `key` would have with one more request now (nginx's lookup), without recording it. */
  #excessWithOne(b: Bucket | undefined, now: number): number {
    if (b === undefined) return 0
    const ms = clampElapsed(now - b.last)
    return Math.max(0, b.excess - (this.rate * ms) / 1000 + 1000)
  }

  /** Whether one more request of `key` fits under `burst` (requests) now; records nothing. */
  check(key: string, now: number, burst: number): RateDecision | undefined {
    const excess = this.#excessWithOne(this.#buckets.get(key), now)
    const limit = burst * 1000
    if (excess <= limit) return undefined
    return { kind: 'reject', retryAfterS: Math.max(1, Math.ceil((excess - limit) / this.rate)) }
  }

  /** Records one request of `key` (after check passed everywhere); returns how long to hold it (ms). */
  take(key: string, now: number, delay: number): number {
    let b = this.#buckets.get(key)
    const excess = this.#excessWithOne(b, now)
    if (b === undefined) {
      b = { excess, last: now }
      if (this.#buckets.size >= this.maxKeys) this.#forgetOldest()
    } else {
      // Map order is the order of last use: the first entry is the one to forget when full.
      this.#buckets.delete(key)
      b.excess = excess
      b.last = now
    }
    this.#buckets.set(key, b)
    if (this.#accepted !== undefined) this.#accepted.set(key, (this.#accepted.get(key) ?? 0) + 1)
    const free = delay * 1000
    return excess <= free ? 0 : Math.ceil(((excess - free) * 1000) / this.rate)
  }

  #forgetOldest(): void {
    const oldest = this.#buckets.keys().next()
    if (oldest.done !== true) this.#buckets.delete(oldest.value)
  }

  /** Requests of `key` another worker let through: they fill this worker's bucket too. */
  absorb(key: string, requests: number, now: number): void {
    const b = this.#buckets.get(key)
    const leaked = b === undefined ? 0 : Math.max(0, b.excess - (this.rate * clampElapsed(now - b.last)) / 1000)
    // Each request beyond the first of an empty bucket is one request of excess, as take() counts them.
    const added = (b === undefined ? requests - 1 : requests) * 1000
    if (b === undefined && this.#buckets.size >= this.maxKeys) this.#forgetOldest()
    this.#buckets.delete(key)
    this.#buckets.set(key, { excess: Math.max(0, leaked + added), last: now })
  }

  /** Start counting what this worker lets through, for the exchange with the others. */
  shareWithWorkers(): void {
    this.#accepted ??= new Map()
  }

  /** What was let through since the last call, by key (and starts counting anew). */
  drainAccepted(): Map<string, number> | undefined {
    const out = this.#accepted
    if (out === undefined || out.size === 0) return undefined
    this.#accepted = new Map()
    return out
  }

  get keys(): number {
    return this.#buckets.size
  }
}

/** nginx: a clock that went back more than a minute counts as 1 ms, a little back as 0. */
function clampElapsed(ms: number): number {
  return ms < -60_000 ? 1 : ms < 0 ? 0 : ms
}

/**
 * The zones of one data-plane process by name, kept across reloads while the name, rate and size stay
 * the same (a changed one starts empty, as nginx does for a changed zone).
 */
export class RateLimitZones {
  readonly #zones = new Map<string, RateLimitZone>()
  #shared = false

  zone(name: string, perSecond: number, maxKeys: number): RateLimitZone {
    const existing = this.#zones.get(name)
    if (existing !== undefined && existing.rate === perSecond * 1000 && existing.maxKeys === maxKeys) return existing
    const zone = new RateLimitZone(name, perSecond, maxKeys)
    if (this.#shared) zone.shareWithWorkers()
    this.#zones.set(name, zone)
    return zone
  }

  get(name: string): RateLimitZone | undefined {
    return this.#zones.get(name)
  }

  /** Forget zones no generation uses any more. */
  retain(names: ReadonlySet<string>): void {
    for (const name of [...this.#zones.keys()]) if (!names.has(name)) this.#zones.delete(name)
  }

  /** Workers: count what each zone lets through, to tell the others. */
  shareWithWorkers(): void {
    this.#shared = true
    for (const z of this.#zones.values()) z.shareWithWorkers()
  }

  get all(): Iterable<RateLimitZone> {
    return this.#zones.values()
  }
}
