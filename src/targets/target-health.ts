/**
 * A target's state in one target group, as an ALB target group shows it. The control plane decides it
 * (active health checks, registration, draining); the data plane only reads it to choose targets.
 * Kept per (group, address) in a store that outlives reloads, like `TargetState`.
 *
 * - initial: registered, no verdict yet: no traffic unless the group has no healthy target
 * - healthy: takes traffic
 * - unhealthy: failed its checks: no traffic unless every target is unhealthy and the group fails open
 * - draining: deregistered: no new requests; requests in flight finish until the deregistration delay
 * - unused: the group is not used by any route
 */
export const HEALTH_STATES = ['initial', 'healthy', 'unhealthy', 'draining', 'unused'] as const
export type HealthStateName = (typeof HEALTH_STATES)[number]

export class TargetHealth {
  state: HealthStateName
  /**
   * When the target last became healthy (ms, the store's clock): set to 'healthy', created healthy, or
   * brought back by a passed passive-health trial (`HealthStore.recovered`). -1 = never. Slow start
   * ramps from here.
   */
  healthySince: number
  /** Slow start's bookkeeping, kept here so that it outlives reloads; written only by `slow-start.ts`. */
  readonly ramp: RampRecord = { decidedFor: -1, start: -1, requestsAtStart: 0 }
  constructor(state: HealthStateName, now: number) {
    this.state = state
    this.healthySince = state === 'healthy' ? now : -1
  }
}

/** Whether a target's latest entry into 'healthy' ramps, and since when. */
export interface RampRecord {
  /** The `healthySince` this record was decided for; a newer one is a new entry, still to decide. */
  decidedFor: number
  /** When the ramp started; -1 = not ramping (never, not yet decided, or over). */
  start: number
  /** `TargetState.requests` when the ramp started, to count the samples behind its latency. */
  requestsAtStart: number
}

/** Which states may take new requests in a group right now, from the states of all its targets. */
export type HealthMode = 'healthy' | 'initial' | 'fail-open' | 'none'

export class HealthStore {
  readonly #states = new Map<string, TargetHealth>()
  readonly #now: () => number
  /** Bumped on every change, so groups can cache their mode and recompute it only when something moved. */
  version = 0

  /** `now` (ms) times entries into 'healthy'; use the clock the data plane picks with. Default performance.now. */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now
  }

  get(group: string, address: string, initial: HealthStateName): TargetHealth {
    const key = `${group}\n${address}`
    let h = this.#states.get(key)
    if (h === undefined) {
      h = new TargetHealth(initial, this.#now())
      this.#states.set(key, h)
      this.version++
    }
    return h
  }

  /** Returns true when the state changed. */
  set(group: string, address: string, state: HealthStateName): boolean {
    const h = this.get(group, address, state)
    if (h.state === state) return false
    h.state = state
    if (state === 'healthy') h.healthySince = this.#now()
    this.version++
    return true
  }

  /**
   * A passed passive-health trial brought `address` back: for slow start it counts as a new entry into
   * 'healthy', in every group that lists it and holds it healthy (passive health is per address).
   */
  recovered(address: string): void {
    const now = this.#now()
    const suffix = `\n${address}`
    for (const [key, h] of this.#states) {
      if (h.state === 'healthy' && key.endsWith(suffix)) h.healthySince = now
    }
    this.version++
  }

  /** Forget (group, address) pairs not in `keep` ("group\naddress" keys). */
  retain(keep: ReadonlySet<string>): void {
    for (const key of this.#states.keys()) if (!keep.has(key)) this.#states.delete(key)
  }
}

/** The mode a group's targets put it in (ALB rules): healthy first, then initial, then fail-open. */
export function healthMode(states: Iterable<HealthStateName>, failOpen: boolean): HealthMode {
  let initial = false
  let unhealthy = false
  for (const s of states) {
    if (s === 'healthy') return 'healthy'
    if (s === 'initial') initial = true
    else if (s === 'unhealthy') unhealthy = true
  }
  if (initial) return 'initial'
  return unhealthy && failOpen ? 'fail-open' : 'none'
}

/** Whether a target in `state` may take a new request when its group is in `mode`. */
export function admits(mode: HealthMode, state: HealthStateName): boolean {
  switch (mode) {
    case 'healthy': return state === 'healthy'
    case 'initial': return state === 'initial'
    case 'fail-open': return state === 'unhealthy'
    case 'none': return false
  }
}
