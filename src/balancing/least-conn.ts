/**
 * `least-conn`: the target with the fewest requests in flight relative to its weight, as nginx least_conn.
 *
 * What is counted: `state.inFlight`, the requests (and upgraded tunnels) in flight to the target's address
 * right now, across every group that lists it (one process, one set of connections). Idle pooled
 * connections are not counted. Targets are compared by inFlight / weight, cross-multiplied
 * (inFlight_i × weight_j < inFlight_j × weight_i) so integers stay exact. Ties, including the idle case
 * where everything is 0, go to smooth weighted round robin among the tied targets (as nginx does), so
 * weights are honoured even when load is even.
 */
import type { Algorithm, AlgorithmFactory, RequestFacts, Target } from './algorithm.ts'
import { SmoothWeighted } from './smooth-weighted.ts'

class LeastConn implements Algorithm {
  readonly name = 'least-conn'
  readonly #smooth: SmoothWeighted

  constructor(targets: readonly Target[]) {
    this.#smooth = new SmoothWeighted(targets)
  }

  pick(eligible: readonly Target[], _req: RequestFacts): Target | undefined {
    if (eligible.length === 0) return undefined
    let best = eligible[0]
    let bestAt = 0
    let tied = false
    for (let i = 1; i < eligible.length; i++) {
      const t = eligible[i]
      const lhs = t.state.inFlight * best.weight
      const rhs = best.state.inFlight * t.weight
      if (lhs < rhs) {
        best = t
        bestAt = i
        tied = false
      } else if (lhs === rhs) {
        tied = true
      }
    }
    if (!tied) return best

    // Second pass from the first of the least loaded: only targets tied with it take part in the round.
    const smooth = this.#smooth
    smooth.begin()
    for (let i = bestAt; i < eligible.length; i++) {
      const t = eligible[i]
      if (t.state.inFlight * best.weight === best.state.inFlight * t.weight) smooth.offer(t)
    }
    return smooth.end()
  }
}

export const leastConn: AlgorithmFactory = (targets) => new LeastConn(targets)
