/**
 * The interface every balancing algorithm implements. `target-group.ts` filters first (healthy, not down,
 * under maxConns, not already tried by this request, backups) and only then calls `pick`, so no algorithm
 * re-checks health. Tables (hash rings, weights) are built once in the factory, when the target set changes.
 */
import type { TargetState } from '../targets/target-state.ts'

/** One target of one group, as an algorithm sees it. Immutable but for `state`, which is shared and live. */
export interface Target {
  /** "host:port" as configured. */
  readonly address: string
  /** Position in the group's target list (0-based); algorithms may index their own tables by it. */
  readonly index: number
  readonly weight: number
  readonly state: TargetState
}

/** What an algorithm may know about the request. Fields are computed lazily by the caller where costly. */
export interface RequestFacts {
  readonly method: string
  /** The request target as sent (path and query). */
  readonly url: string
  /** The client's address as the balancer sees it (no port). */
  readonly clientIp: string
  /** Request headers, lower-case names (node's IncomingHttpHeaders). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

export interface Algorithm {
  readonly name: string
  /**
   * Choose one of `eligible` (a subset of the targets given to the factory, in the same order, never
   * empty), or undefined when none fits. Must not allocate on the hot path when avoidable.
   */
  pick(eligible: readonly Target[], req: RequestFacts): Target | undefined
}

export interface AlgorithmOptions {
  /** For `hash`: header:NAME | cookie:NAME | path | client-ip. */
  readonly hashKey?: string
  /** Injected for exact tests. Default Math.random. */
  readonly random?: () => number
  /** Injected for exact tests (ms). Default performance.now. */
  readonly now?: () => number
}

/** Builds an algorithm for a fixed set of targets (all of a group's targets, primaries and backups). */
export type AlgorithmFactory = (targets: readonly Target[], options: AlgorithmOptions) => Algorithm
