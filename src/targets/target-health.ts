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
  constructor(state: HealthStateName) {
    this.state = state
  }
}

/** Which states may take new requests in a group right now, from the states of all its targets. */
export type HealthMode = 'healthy' | 'initial' | 'fail-open' | 'none'

export class HealthStore {
  readonly #states = new Map<string, TargetHealth>()
  /** Bumped on every change, so groups can cache their mode and recompute it only when something moved. */
  version = 0

  get(group: string, address: string, initial: HealthStateName): TargetHealth {
    const key = `${group}\n${address}`
    let h = this.#states.get(key)
    if (h === undefined) {
      h = new TargetHealth(initial)
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
    this.version++
    return true
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
