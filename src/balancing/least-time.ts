/**
 * `least-time`: the lowest expected wait, score = peak-EWMA latency × (inFlight + 1) / weight, as linkerd's
 * and Finagle's peak-EWMA balancers. Latency is `state.latencyEwma` (time to response headers, kept by
 * `targets/latency.ts`), decayed toward 0 while a target gets no samples so that a target slow once is
 * retried eventually. `inFlight` is `state.inFlight`: requests in flight to the address across all groups.
 * A target with no sample yet scores 0 and so is tried first: new targets get measured. Equal scores
 * (for instance several unmeasured targets) go to smooth weighted round robin among the tied.
 */
import { decayedLatency } from '../targets/latency.ts'
import type { Algorithm, AlgorithmFactory, AlgorithmOptions, RequestFacts, Target } from './algorithm.ts'
import { SmoothWeighted } from './smooth-weighted.ts'
import { tableSize } from './table-size.ts'

class LeastTime implements Algorithm {
  readonly name = 'least-time'
  readonly #smooth: SmoothWeighted
  readonly #now: () => number
  /** Each eligible target's score in the current pick, by `target.index`, reused by the tie pass. */
  readonly #score: Float64Array

  constructor(targets: readonly Target[], options: AlgorithmOptions) {
    this.#smooth = new SmoothWeighted(targets)
    this.#now = options.now ?? (() => performance.now())
    this.#score = new Float64Array(tableSize(targets))
  }

  pick(eligible: readonly Target[], _req: RequestFacts): Target | undefined {
    if (eligible.length === 0) return undefined
    const now = this.#now()
    const score = this.#score
    let bestAt = 0
    let bestScore = Infinity
    let tied = false
    for (let i = 0; i < eligible.length; i++) {
      const t = eligible[i]
      const s = (decayedLatency(t.state, now) * (t.state.inFlight + 1)) / t.weight
      score[t.index] = s
      if (s < bestScore) {
        bestScore = s
        bestAt = i
        tied = false
      } else if (s === bestScore) {
        tied = true
      }
    }
    if (!tied) return eligible[bestAt]

    const smooth = this.#smooth
    smooth.begin()
    for (let i = bestAt; i < eligible.length; i++) {
      if (score[eligible[i].index] === bestScore) smooth.offer(eligible[i])
    }
    return smooth.end()
  }
}

export const leastTime: AlgorithmFactory = (targets, options) => new LeastTime(targets, options)
