/**
 * Which target group a forwarding route sends a request to: the one group, or one of several by weight
 * (canary, blue/green) with smooth weighted round robin, so 90/10 means exactly 9 of every 10.
 */
import type { TargetGroup } from '../targets/target-group.ts'

export class GroupChooser {
  readonly #groups: readonly TargetGroup[]
  readonly #weights: readonly number[]
  readonly #current: number[]
  readonly #total: number

  constructor(entries: ReadonlyArray<{ group: TargetGroup; weight: number }>) {
    this.#groups = entries.map((e) => e.group)
    this.#weights = entries.map((e) => e.weight)
    this.#current = entries.map(() => 0)
    this.#total = this.#weights.reduce((a, b) => a + b, 0)
  }

  get groups(): readonly TargetGroup[] {
    return this.#groups
  }

  choose(): TargetGroup {
    const groups = this.#groups
    if (groups.length === 1) return groups[0]
    let best = 0
    for (let i = 0; i < groups.length; i++) {
      this.#current[i] += this.#weights[i]
      if (this.#current[i] > this.#current[best]) best = i
    }
    this.#current[best] -= this.#total
    return groups[best]
  }
}
