/**
 * `random`: each eligible target with probability weight / (sum of eligible weights). O(1) when all
 * weights are equal, otherwise one loop over the eligible weights.
 */
import type { Algorithm, AlgorithmFactory, AlgorithmOptions, RequestFacts, Target } from './algorithm.ts'
import { drawUniform, drawWeighted, equalWeights, sumWeights } from './weighted-draw.ts'

class WeightedRandom implements Algorithm {
  readonly name = 'random'
  readonly #random: () => number
  readonly #count: number
  /** Sum of all targets' weights, reused when every target is eligible. */
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
    if (this.#equal) return eligible[drawUniform(n, this.#random())]
    const total = n === this.#count ? this.#total : sumWeights(eligible)
    return eligible[drawWeighted(eligible, total, this.#random(), -1)]
  }
}

export const random: AlgorithmFactory = (targets, options) => new WeightedRandom(targets, options)
