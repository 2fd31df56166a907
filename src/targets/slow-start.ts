/**
 * Slow start (`slowStart` on a target group): a target that enters 'healthy' (new, recovered after failing
 * its checks, or back after a passed passive-health trial) takes a growing share instead of its full share at
 * once, so caches and JIT warm up under light load. Its effective weight is
 *
 *     weight × (0.1 + 0.9 × elapsed / duration)      (10% at once, 55% half-way, then the plain weight)
 *
 * with `elapsed` counted from its entry into 'healthy' (`TargetHealth.healthySince`). With
 * `{ until: latency, max }` the same line runs over `max`, and the ramp ends early once the target has
 * answered a few requests (MIN_SAMPLES) and its peak-EWMA latency is at most 1.2 × the median of its warm
 * peers' (a JVM warming up), compared every LATENCY_CHECK_MS.
 *
 * Who ramps, as an ALB decides: a target ramps only when some other target of its tier is healthy and warm
 * (its own entry decided, not ramping) at the first pick after the entry. So the targets of the first
 * generation start together at their full weight, and so do targets that turn healthy together into an
 * empty group: a ramp only makes sense against peers that already carry the load. Leaving 'healthy'
 * (unhealthy, draining) ends a ramp; the next entry starts a new one. Enabling slow start by a reload ramps
 * none of the targets already serving.
 *
 * The weight is read live by the algorithms that read `target.weight` on every pick (round-robin,
 * least-conn, least-time, and the key-less fallback of hash and ip-hash). Hash rings are built once per
 * generation from the plain weights and ignore slow start. random and p2c cache their weight total (and
 * whether all weights are equal) when built: a ramping weight would skew their draws toward the last
 * target, so slow start is off for them until they can be told to read weights per pick.
 *
 * Cost: targets keep a plain `weight` field in every group, so algorithms see one object shape. A group
 * without slow start pays one `undefined` test per pick; with it, `tick` costs a comparison per pick, plus,
 * per target in its ramp, a subtraction, a multiply and an add to write its weight before the algorithm
 * reads it. Once a ramp is over the target holds its plain weight again and costs nothing.
 */
import type { AlgorithmName, TargetGroupConfig } from '../config/schema.ts'
import type { GroupTarget } from './target-group.ts'

/** Share of its weight a target gets as it enters its ramp. */
export const RAMP_FLOOR = 0.1
/** `until: latency` ends a ramp once the target's latency is at most this multiple of its peers' median. */
export const LATENCY_TOLERANCE = 1.2
/** Responses a ramping target must have given before its latency is believed. */
export const MIN_SAMPLES = 5
/** How often `until: latency` compares latencies, at most (ms). */
export const LATENCY_CHECK_MS = 100

export interface RampPolicy {
  /** Length of the linear ramp (ms): the duration, or `max` with `until: latency`; Infinity = no cap. */
  readonly duration: number
  readonly untilLatency: boolean
}

/** Algorithms that cache weight sums when built (see above): no slow start for them. */
const CACHED_WEIGHTS: ReadonlySet<AlgorithmName> = new Set(['random', 'p2c'])

/**
 * The ramp a group's `slowStart` asks for, or undefined when it is off (0, the default, or an algorithm that
 * caches weights). With `until: latency`, `max: 0` means no time cap: the target stays at 10% until its
 * latency matches.
 */
export function rampPolicy(group: Pick<TargetGroupConfig, 'slowStart' | 'algorithm'>): RampPolicy | undefined {
  const config = group.slowStart
  if (CACHED_WEIGHTS.has(group.algorithm)) return undefined
  if (typeof config === 'number') return config > 0 ? { duration: config, untilLatency: false } : undefined
  return { duration: config.max > 0 ? config.max : Infinity, untilLatency: true }
}

/** A target as slow start holds it: the one writer of its `weight` while it ramps. */
type RampTarget = GroupTarget & { weight: number }

/** One running ramp. */
interface Ramp {
  readonly target: RampTarget
  /** The configured weight, which the target gets back when the ramp ends. */
  readonly base: number
  readonly start: number
  /** When the ramp reaches the plain weight (ms); Infinity without a time cap. */
  readonly end: number
  readonly floor: number
  /** Weight gained per ms of ramp. */
  readonly slope: number
}

/**
 * One group's slow start. Targets stay plain objects with a plain `weight` field, so algorithms see one
 * object shape; while a target ramps, `tick` writes its effective weight before each pick.
 */
export class SlowStart {
  readonly policy: RampPolicy
  readonly #targets: RampTarget[] = []
  /** The configured weight of each target, in `#targets` order. */
  readonly #base: number[] = []
  #ramps: Ramp[] = []
  /** The next time something must be looked at: a ramp's end or a latency comparison. */
  #next = Infinity

  constructor(policy: RampPolicy) {
    this.policy = policy
  }

  /** Takes one of the group's targets in; call for every target before the first pick. */
  add(t: GroupTarget): void {
    this.#targets.push(t as RampTarget)
    this.#base.push(t.weight)
  }

  /** Call on every pick, before the algorithm reads weights. */
  tick(now: number): void {
    if (now >= this.#next) this.#review(now)
    const ramps = this.#ramps
    for (let i = 0; i < ramps.length; i++) {
      const r = ramps[i]
      r.target.weight = r.floor + (now - r.start) * r.slope
    }
  }

  /**
   * Call when target health changed (the store's version moved), before `tick`: decides whether each new
   * entry into 'healthy' ramps, and ends the ramps of targets that left 'healthy'.
   */
  refresh(now: number): void {
    const duration = this.policy.duration
    const rampingAt = (t: GroupTarget): boolean => t.health.ramp.start !== -1 && now - t.health.ramp.start < duration
    let warmPrimary = false
    let warmBackup = false
    for (const t of this.#targets) {
      const h = t.health
      if (h.state === 'healthy' && h.ramp.decidedFor === h.healthySince && !rampingAt(t)) {
        if (t.backup) warmBackup = true
        else warmPrimary = true
      }
    }
    for (const t of this.#targets) {
      const h = t.health
      const r = h.ramp
      if (h.state !== 'healthy') {
        r.start = -1
      } else if (r.decidedFor !== h.healthySince) {
        r.decidedFor = h.healthySince
        r.start = (t.backup ? warmBackup : warmPrimary) ? h.healthySince : -1
        r.requestsAtStart = t.state.requests
      }
    }
    this.#ramps = []
    for (let i = 0; i < this.#targets.length; i++) {
      const t = this.#targets[i]
      const base = this.#base[i]
      if (!rampingAt(t)) {
        t.health.ramp.start = -1
        if (t.weight !== base) t.weight = base
        continue
      }
      const start = t.health.ramp.start
      this.#ramps.push({
        target: t, base, start, end: start + duration, floor: RAMP_FLOOR * base, slope: ((1 - RAMP_FLOOR) * base) / duration,
      })
    }
    this.#schedule(now)
  }

  /** Ends the ramps whose time is up and, with `until: latency`, those that caught up with their peers. */
  #review(now: number): void {
    const primary = this.policy.untilLatency ? this.#peerMedian(false) : 0
    const backup = this.policy.untilLatency ? this.#peerMedian(true) : 0
    const kept: Ramp[] = []
    for (const r of this.#ramps) {
      const t = r.target
      const median = t.backup ? backup : primary
      const latency = t.state.latencyEwma
      const caughtUp = median > 0 && latency > 0 && latency <= LATENCY_TOLERANCE * median
        && t.state.requests - t.health.ramp.requestsAtStart >= MIN_SAMPLES
      if (now < r.end && !caughtUp) {
        kept.push(r)
        continue
      }
      t.health.ramp.start = -1
      t.weight = r.base
    }
    this.#ramps = kept
    this.#schedule(now)
  }

  /** The median latency of the tier's healthy targets out of their ramp that have one; 0 when none has. */
  #peerMedian(backup: boolean): number {
    const latencies: number[] = []
    for (const t of this.#targets) {
      if (t.backup === backup && t.health.state === 'healthy' && t.health.ramp.start === -1 && t.state.latencyEwma > 0) {
        latencies.push(t.state.latencyEwma)
      }
    }
    return median(latencies)
  }

  #schedule(now: number): void {
    let next = Infinity
    for (const r of this.#ramps) next = Math.min(next, r.end)
    if (this.policy.untilLatency && this.#ramps.length > 0) next = Math.min(next, now + LATENCY_CHECK_MS)
    this.#next = next
  }
}

/** The median of `values` (sorted in place); 0 for none. */
export function median(values: number[]): number {
  if (values.length === 0) return 0
  values.sort((a, b) => a - b)
  const mid = values.length >> 1
  return values.length % 2 === 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2
}
