/**
 * nginx's smooth weighted round robin (`ngx_http_upstream_get_peer`), used by round-robin, by the
 * tie-breaks of least-conn and least-time, and when a request has no key for hash or ip-hash. Each round,
 * every offered target's `current` grows by its weight; the largest `current` wins (the first in list
 * order on a tie) and pays back the round's total. Weights 5,1,1 give a a b a c a a: heavy targets are spread out, not sent in bursts.
 */
import type { Target } from './algorithm.ts'
import { tableSize } from './table-size.ts'

export class SmoothWeighted {
  /** `current` weight per `target.index`. Float64 keeps sums of large weights exact (up to 2^53). */
  readonly #current: Float64Array
  #best: Target | undefined = undefined
  #bestCurrent = 0
  #total = 0

  constructor(targets: readonly Target[]) {
    this.#current = new Float64Array(tableSize(targets))
  }

  /** One round over all of `eligible`. Undefined only when `eligible` is empty. */
  pick(eligible: readonly Target[]): Target | undefined {
    this.begin()
    for (let i = 0; i < eligible.length; i++) this.offer(eligible[i])
    return this.end()
  }

  /**
   * begin / offer… / end: one round over a subset the caller filters (the tied targets of least-conn),
   * without a callback or an array per pick.
   */
  begin(): void {
    this.#best = undefined
    this.#bestCurrent = 0
    this.#total = 0
  }

  offer(target: Target): void {
    const current = (this.#current[target.index] += target.weight)
    this.#total += target.weight
    // Strictly greater: on equal `current` the earlier target wins, so equal weights rotate in list order.
    if (this.#best === undefined || current > this.#bestCurrent) {
      this.#best = target
      this.#bestCurrent = current
    }
  }

  end(): Target | undefined {
    const best = this.#best
    if (best !== undefined) this.#current[best.index] -= this.#total
    this.#best = undefined
    return best
  }
}
