/** Random draws over `eligible` for `random` and `p2c`: loops over weights, no prefix-sum array per pick. */
import type { Target } from './algorithm.ts'

export function sumWeights(targets: readonly Target[]): number {
  let total = 0
  for (let i = 0; i < targets.length; i++) total += targets[i].weight
  return total
}

/** True when every target has the same weight, so any subset can be drawn from uniformly in O(1). */
export function equalWeights(targets: readonly Target[]): boolean {
  for (let i = 1; i < targets.length; i++) if (targets[i].weight !== targets[0].weight) return false
  return true
}

/** A position in [0, n) for `r` in [0, 1). `Math.min`: r × n can round up to n when r is just below 1. */
export function drawUniform(n: number, r: number): number {
  return Math.min(n - 1, Math.floor(r * n))
}

/**
 * A position in `eligible` with probability weight / total, for `r` in [0, 1). Position `skip` (-1 for
 * none) is left out; the caller has already taken its weight out of `total`.
 */
export function drawWeighted(eligible: readonly Target[], total: number, r: number, skip: number): number {
  let x = r * total
  let last = -1
  for (let i = 0; i < eligible.length; i++) {
    if (i === skip) continue
    x -= eligible[i].weight
    if (x < 0) return i
    last = i
  }
  // Float rounding can leave x a hair above 0 after the last weight: that draw belongs to the last target.
  return last
}
