/** The contract between the control plane and the active health checker (src/health/active.ts). */
import type { HealthCheckConfig, TargetGroupConfig } from '../config/schema.ts'

/** One target to check, as the control plane hands it over. */
export interface CheckTarget {
  readonly group: string
  readonly address: string
  /** Where the target serves traffic; the check uses `check.port` when it is a number. */
  readonly host: string
  readonly port: number
  /** With `protocol` resolved (a group's own protocol when the check names none). */
  readonly check: HealthCheckConfig & { readonly protocol: 'http' | 'https' | 'tcp' }
  /** https checks: the group's TLS settings (CA, server name, verification), as its traffic uses them. */
  readonly tls?: TargetGroupConfig['tls']
}

export interface CheckResult {
  readonly ok: boolean
  /** What happened, for logs and the status API: "status 200", "status 500", "timeout after 2s", "connection refused". */
  readonly detail: string
  /** Milliseconds from the start of the check to its verdict. */
  readonly latencyMs: number
  /** Wall-clock time of the verdict (ms since the epoch). */
  readonly at: number
}

export interface HealthChecker {
  /**
   * The full set of targets to check from now on. Targets already being checked with the same settings keep
   * their schedule; new ones are checked at once and then every `interval`; missing ones stop.
   */
  update(targets: readonly CheckTarget[]): void
  stop(): void
}

export type OnCheckResult = (group: string, address: string, result: CheckResult) => void
