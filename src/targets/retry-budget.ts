/**
 * A retry budget: retries may add at most `ratio` to the request rate over the last ten seconds, plus a
 * floor of `minPerSecond` so that a quiet group can still retry. It stops retries from multiplying the load
 * when a whole group is failing (Finagle's RetryBudget, Envoy's retry_budget). Counting a request is two
 * integer operations; the ten buckets are summed only when a retry asks.
 */
const BUCKETS = 10
const BUCKET_MS = 1000

export class RetryBudget {
  readonly ratio: number
  readonly minPerSecond: number
  readonly #requests = new Float64Array(BUCKETS)
  readonly #retries = new Float64Array(BUCKETS)
  readonly #second = new Float64Array(BUCKETS).fill(-1)

  constructor(ratio: number, minPerSecond: number) {
    this.ratio = ratio
    this.minPerSecond = minPerSecond
  }

  #bucket(now: number): number {
    const second = Math.floor(now / BUCKET_MS)
    const i = second % BUCKETS
    if (this.#second[i] !== second) {
      this.#second[i] = second
      this.#requests[i] = 0
      this.#retries[i] = 0
    }
    return i
  }

  /** Count one client request (not its retries). */
  recordRequest(now: number): void {
    this.#requests[this.#bucket(now)]++
  }

  /** Whether one more retry fits; if it does, it is counted. */
  tryRetry(now: number): boolean {
    const current = this.#bucket(now)
    const oldest = Math.floor(now / BUCKET_MS) - BUCKETS + 1
    let requests = 0
    let retries = 0
    for (let i = 0; i < BUCKETS; i++) {
      if (this.#second[i] < oldest) continue
      requests += this.#requests[i]
      retries += this.#retries[i]
    }
    if (retries >= requests * this.ratio + this.minPerSecond * BUCKETS) return false
    this.#retries[current]++
    return true
  }
}
