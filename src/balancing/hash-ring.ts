/**
 * A ketama-style consistent hash ring, shared by `hash` and `ip-hash`. Each target owns points on a 32-bit
 * circle, hashed from "address#i", so its points depend only on its own address: adding a target takes
 * over only the keys that land on its new points, and removing one moves only the keys it owned. A key goes
 * to the owner of the first point at or after the key's hash.
 */
import type { Target } from './algorithm.ts'
import { tableSize } from './table-size.ts'
import { sumWeights } from './weighted-draw.ts'

/** Points per unit of weight, as ketama's 160 per server: enough for an even split of a few targets. */
export const POINTS_PER_WEIGHT = 160
/**
 * Most points on one ring (a thousand weight-1 targets' worth, ~1.3 MB). Past it every target's count is
 * scaled down (each keeps at least 1). A target always keeps the first of its points, so even a rescale
 * moves only the keys of the points dropped or added.
 */
export const MAX_POINTS = POINTS_PER_WEIGHT * 1024

/**
 * 32-bit FNV-1a over the UTF-16 code units of s[start, end), then murmur3's fmix32: FNV-1a alone spreads
 * "addr#1", "addr#2"… poorly. A range, so callers hash part of a header without a substring per request.
 */
export function hash32(s: string, start = 0, end = s.length): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Packs (hash, position) into one float so a single numeric sort orders points. 2^21 positions fit. */
const POSITION_SPACE = 2 ** 21

export class HashRing {
  /** Point hashes, ascending. */
  readonly #points: Uint32Array
  /** The owner of each point, as a position in the factory's `targets`. */
  readonly #owners: Uint32Array
  /** `target.index` by position in `targets`. */
  readonly #indexAt: Uint32Array
  readonly #count: number
  /** By `target.index`: the pick (epoch) in which the target was last seen eligible… */
  readonly #mark: Uint32Array
  /** …and its position in that pick's `eligible`. */
  readonly #slot: Uint32Array
  #epoch = 0

  constructor(targets: readonly Target[]) {
    const scale = Math.min(1, MAX_POINTS / (POINTS_PER_WEIGHT * sumWeights(targets)))
    let size = 0
    for (const t of targets) size += Math.max(1, Math.round(POINTS_PER_WEIGHT * t.weight * scale))
    const packed = new Float64Array(size)
    let k = 0
    for (let pos = 0; pos < targets.length; pos++) {
      const { address, weight } = targets[pos]
      const n = Math.max(1, Math.round(POINTS_PER_WEIGHT * weight * scale))
      for (let i = 0; i < n; i++) packed[k++] = hash32(`${address}#${i}`) * POSITION_SPACE + pos
    }
    packed.sort()
    this.#points = new Uint32Array(size)
    this.#owners = new Uint32Array(size)
    for (let i = 0; i < size; i++) {
      this.#points[i] = Math.floor(packed[i] / POSITION_SPACE)
      this.#owners[i] = packed[i] % POSITION_SPACE
    }
    this.#count = targets.length
    this.#indexAt = Uint32Array.from(targets, (t) => t.index)
    this.#mark = new Uint32Array(tableSize(targets))
    this.#slot = new Uint32Array(tableSize(targets))
  }

  /** Points on the ring. */
  get size(): number {
    return this.#points.length
  }

  /** The eligible target owning `hash` (a uint32): its ring owner, or the next eligible one clockwise. */
  pick(eligible: readonly Target[], hash: number): Target | undefined {
    if (eligible.length === 0) return undefined
    const points = this.#points
    const owners = this.#owners
    let lo = 0
    let hi = points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (points[mid] < hash) lo = mid + 1
      else hi = mid
    }
    let at = lo === points.length ? 0 : lo
    // All eligible: `eligible` is `targets`, position for position, so no membership test is needed.
    if (eligible.length === this.#count) return eligible[owners[at]]

    // Mark this pick's eligible targets with a fresh epoch instead of building a Set per call.
    if (++this.#epoch === 2 ** 32) {
      this.#mark.fill(0)
      this.#epoch = 1
    }
    const epoch = this.#epoch
    for (let i = 0; i < eligible.length; i++) {
      this.#mark[eligible[i].index] = epoch
      this.#slot[eligible[i].index] = i
    }
    for (let walked = 0; walked < points.length; walked++) {
      const index = this.#indexAt[owners[at]]
      if (this.#mark[index] === epoch) return eligible[this.#slot[index]]
      if (++at === points.length) at = 0
    }
    return undefined // only when `eligible` holds targets this ring was not built with
  }
}
