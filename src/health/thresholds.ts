/**
 * The ALB health-check state machine, pure: consecutive passes and failures against the thresholds.
 * initial -> healthy after `healthyThreshold` passes in a row; initial or healthy -> unhealthy after
 * `unhealthyThreshold` failures in a row; unhealthy -> healthy after `healthyThreshold` passes in a row.
 */
export type CheckedState = 'initial' | 'healthy' | 'unhealthy'

export interface Streak {
  passes: number
  fails: number
}

export interface Thresholds {
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
}

/** Records one check result in `streak` and returns the state it leads to (the same when nothing flips). */
export function observeCheck(state: CheckedState, streak: Streak, ok: boolean, t: Thresholds): CheckedState {
  if (ok) {
    streak.passes++
    streak.fails = 0
    if (state !== 'healthy' && streak.passes >= t.healthyThreshold) return 'healthy'
  } else {
    streak.fails++
    streak.passes = 0
    if (state !== 'unhealthy' && streak.fails >= t.unhealthyThreshold) return 'unhealthy'
  }
  return state
}

/**
 * A matcher such as "200-299,302" as a predicate. The config schema has already checked the syntax.
 */
export function parseMatcher(matcher: string): (status: number) => boolean {
  const ranges = matcher.split(',').map((part) => {
    const [lo, hi] = part.split('-').map((x) => Number(x.trim()))
    return [lo, hi ?? lo] as const
  })
  return (status) => ranges.some(([lo, hi]) => status >= lo && status <= hi)
}
