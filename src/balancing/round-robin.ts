/**
 * `round-robin`: nginx's smooth weighted round robin. Weights 5,1,1 for a,b,c give a a b a c a a; equal
 * weights rotate in list order starting with the first. A target that is not eligible keeps its `current`
 * weight and rejoins where it left off, as in nginx.
 */
import type { Algorithm, AlgorithmFactory, RequestFacts, Target } from './algorithm.ts'
import { SmoothWeighted } from './smooth-weighted.ts'

class RoundRobin implements Algorithm {
  readonly name = 'round-robin'
  readonly #smooth: SmoothWeighted

  constructor(targets: readonly Target[]) {
    this.#smooth = new SmoothWeighted(targets)
  }

  pick(eligible: readonly Target[], _req: RequestFacts): Target | undefined {
    return this.#smooth.pick(eligible)
  }
}

export const roundRobin: AlgorithmFactory = (targets) => new RoundRobin(targets)
