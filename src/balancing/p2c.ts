/**
 * `p2c`: power of two choices. Draw two distinct eligible targets at random, weighted (the first with
 * probability weight / total, the second the same way among the rest; uniform, in O(1), when all weights are
 * equal), and keep the one with fewer requests in flight (`state.inFlight`, across all groups) relative to
 * its weight. On a tie the first draw stands, so an idle group still shares requests by weight. With one
 * eligible target, that target.
 */
import type { Algorithm, AlgorithmFactory, AlgorithmOptions, RequestFacts, Target } from './algorithm.ts'
import { drawUniform, drawWeighted, equalWeights, sumWeights } from './weighted-draw.ts'

class PowerOfTwo implements Algorithm {
  readonly name = 'p2c'
  readonly #random: () => number
  readonly #count: number
  readonly #total: number
  readonly #equal: boolean

  constructor(targets: readonly Target[], options: AlgorithmOptions) {
    this.#random = options.random ?? Math.random
    this.#count = targets.length
    this.#total = sumWeights(targets)
    this.#equal = equalWeights(targets)
  }

  pick(eligible: readonly Target[], _req: RequestFacts): Target | undefined {
    const n = eligible.length
    if (n <= 1) return eligible[0]
    let i: number
    let j: number
    if (this.#equal) {
      i = drawUniform(n, this.#random())
      j = drawUniform(n - 1, this.#random())
      if (j >= i) j++ // n - 1 slots: skip over i, so j != i without retrying
    } else {
      const total = n === this.#count ? this.#total : sumWeights(eligible)
      i = drawWeighted(eligible, total, this.#random(), -1)
      j = drawWeighted(eligible, total - eligible[i].weight, this.#random(), i)
    }
    const a = eligible[i]
    const b = eligible[j]
    // inFlight_b / weight_b < inFlight_a / weight_a, cross-multiplied to stay exact.
    return b.state.inFlight * a.weight < a.state.inFlight * b.weight ? b : a
  }
}

export const p2c: AlgorithmFactory = (targets, options) => new PowerOfTwo(targets, options)
