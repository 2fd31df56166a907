import type { Target } from './algorithm.ts'

/**
 * Length for an array indexed by `target.index`. The largest index + 1 rather than `targets.length`, so a
 * caller that numbers targets with gaps cannot make a table write out of bounds.
 */
export function tableSize(targets: readonly Target[]): number {
  let size = 0
  for (const t of targets) if (t.index >= size) size = t.index + 1
  return size
}
