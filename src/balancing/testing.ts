/** Helpers for the balancing tests only: targets, requests, and a seeded PRNG so random runs are exact. */
import { TargetState } from '../targets/target-state.ts'
import type { RequestFacts, Target } from './algorithm.ts'

/** Targets named by address, weight 1 unless given: targets({ a: 5, b: 1 }) or targets(['a', 'b']). */
export function targets(spec: readonly string[] | Readonly<Record<string, number>>): Target[] {
  const entries = Array.isArray(spec) ? spec.map((a): [string, number] => [a, 1]) : Object.entries(spec)
  return entries.map(([address, weight], index) => ({ address, index, weight, state: new TargetState(address) }))
}

export function request(facts: Partial<RequestFacts> = {}): RequestFacts {
  return { method: 'GET', url: '/', clientIp: '192.0.2.1', headers: {}, ...facts }
}

/** mulberry32: a tiny seeded PRNG with uniform output in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Addresses of `n` picks, in order. */
export function addresses(pick: () => Target | undefined, n: number): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(pick()?.address ?? '(none)')
  return out
}

/** How many picks went to each address. */
export function tally(pick: () => Target | undefined, n: number): Record<string, number> {
  const counts: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const address = pick()?.address ?? '(none)'
    counts[address] = (counts[address] ?? 0) + 1
  }
  return counts
}
