/**
 * Passive health as nginx does it (`max_fails`, `fail_timeout`): `maxFails` failures within `failTimeout`
 * mark a target down for `failTimeout`; after that one trial request decides — success brings the target
 * back, failure sends it down again. Pure functions over `TargetState`, with the clock passed in.
 */
import type { TargetState } from '../targets/target-state.ts'

export interface PassivePolicy {
  /** 0 turns passive checks off. */
  readonly maxFails: number
  readonly failTimeout: number
}

/** Whether the target may take a new request now (its trial slot included). */
export function passivelyAvailable(state: TargetState, now: number): boolean {
  if (state.downUntil === 0) return true
  if (now < state.downUntil) return false
  return !state.trialInFlight
}

/** Call when a request is sent to the target: takes the trial slot when the target is on trial. */
export function beginAttempt(state: TargetState, now: number): void {
  if (state.downUntil !== 0 && now >= state.downUntil) state.trialInFlight = true
}

/** Returns true when this failure marked the target down (a transition worth logging). */
export function recordFailure(state: TargetState, policy: PassivePolicy, now: number): boolean {
  if (policy.maxFails === 0) return false
  if (state.downUntil !== 0) {
    // A failed trial (or a late failure while down): down for another failTimeout.
    const wasTrial = state.trialInFlight
    state.trialInFlight = false
    state.downUntil = now + policy.failTimeout
    return wasTrial
  }
  if (now - state.failWindowStart > policy.failTimeout) {
    state.fails = 0
    state.failWindowStart = now
  }
  state.fails++
  if (state.fails < policy.maxFails) return false
  state.downUntil = now + policy.failTimeout
  state.fails = 0
  return true
}

/** Returns true when this success ended a trial and brought the target back. */
export function recordSuccess(state: TargetState): boolean {
  if (state.downUntil === 0) return false
  if (!state.trialInFlight) return false
  state.trialInFlight = false
  state.downUntil = 0
  state.fails = 0
  return true
}

/** A request that ended without a verdict (the client left) gives the trial slot back. */
export function abandonAttempt(state: TargetState): void {
  state.trialInFlight = false
}
