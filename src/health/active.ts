/**
 * Active health checks (ALB target-group semantics): every target is probed at once, then every
 * `interval`, and each verdict goes to the control plane, which owns the thresholds (thresholds.ts).
 * The schedule is the only state here: one timer and at most one probe in flight per target.
 */
import { performance } from 'node:perf_hooks'
import type { CheckResult, CheckTarget, HealthChecker, OnCheckResult } from './checker.ts'
import type { ProbeVerdict } from './probe-error.ts'
import { describeProbeError } from './probe-error.ts'
import { probeHttp } from './probe-http.ts'
import { probeTcp } from './probe-tcp.ts'

export interface ActiveHealthCheckerOptions {
  /** Wall clock for `CheckResult.at`. Default Date.now. Latency is measured with performance.now. */
  readonly now?: () => number
}

/** A floor under `interval` so that a 0 in the config cannot spin. */
const MIN_INTERVAL_MS = 10
/** Node turns a longer timer delay into 1ms (TimeoutOverflowWarning): cap intervals and timeouts here. */
const MAX_TIMER_MS = 2 ** 31 - 1

function clampInterval(ms: number): number {
  return Math.min(Math.max(ms, MIN_INTERVAL_MS), MAX_TIMER_MS)
}

interface Scheduled {
  readonly key: string
  readonly target: CheckTarget
  readonly interval: number
  /** When the next tick is due (performance.now() time). */
  due: number
  timer: NodeJS.Timeout | undefined
  /** The probe in flight; aborting it drops its result. */
  running: AbortController | undefined
}

export class ActiveHealthChecker implements HealthChecker {
  readonly #onResult: OnCheckResult
  readonly #now: () => number
  readonly #scheduled = new Map<string, Scheduled>()
  #stopped = false

  constructor(onResult: OnCheckResult, options: ActiveHealthCheckerOptions = {}) {
    this.#onResult = onResult
    this.#now = options.now ?? Date.now
  }

  update(targets: readonly CheckTarget[]): void {
    if (this.#stopped) return
    const wanted = new Map(targets.map((t) => [scheduleKey(t), t]))
    for (const [key, s] of this.#scheduled) {
      if (!wanted.has(key)) this.#unschedule(s)
    }
    for (const [key, target] of wanted) {
      if (!this.#scheduled.has(key)) this.#schedule(key, target)
    }
  }

  stop(): void {
    this.#stopped = true
    for (const s of this.#scheduled.values()) this.#unschedule(s)
  }

  #schedule(key: string, target: CheckTarget): void {
    const interval = clampInterval(target.check.interval)
    const s: Scheduled = { key, target, interval, due: performance.now(), timer: undefined, running: undefined }
    this.#scheduled.set(key, s)
    this.#tick(s)
  }

  #unschedule(s: Scheduled): void {
    clearTimeout(s.timer)
    s.running?.abort()
    s.running = undefined
    this.#scheduled.delete(s.key)
  }

  #tick(s: Scheduled): void {
    if (this.#scheduled.get(s.key) !== s) return
    // Keep the cadence however late this tick ran (setInterval would drift by every delay of the event
    // loop), but when more than half an interval late, start afresh rather than check twice in a row.
    const now = performance.now()
    s.due += s.interval
    if (s.due - now < s.interval / 2) s.due = now + s.interval
    s.timer = setTimeout(() => this.#tick(s), s.due - now)
    s.timer.unref()
    // Only when timeout >= interval can a probe outlast the interval: skip this tick rather than overlap.
    if (s.running !== undefined) return
    const controller = new AbortController()
    s.running = controller
    void this.#check(s, controller.signal).finally(() => {
      if (s.running === controller) s.running = undefined
    })
  }

  async #check(s: Scheduled, signal: AbortSignal): Promise<void> {
    const started = performance.now()
    let verdict: ProbeVerdict
    try {
      verdict = await probe(s.target, signal)
    } catch (err) {
      verdict = { ok: false, detail: describeProbeError(err) }
    }
    // Removed, changed or stopped while the probe ran: its result belongs to nobody.
    if (signal.aborted || this.#scheduled.get(s.key) !== s) return
    const result: CheckResult = {
      ok: verdict.ok,
      detail: verdict.detail,
      latencyMs: Math.round(performance.now() - started),
      at: this.#now(),
    }
    try {
      this.#onResult(s.target.group, s.target.address, result)
    } catch {
      // The consumer's failure must not stop the checks; the next tick reports again.
    }
  }
}

/** Same key, same schedule: group, address, where it serves, and every check setting. */
function scheduleKey(t: CheckTarget): string {
  return JSON.stringify([t.group, t.address, t.host, t.port, t.check])
}

function probe(t: CheckTarget, signal: AbortSignal): Promise<ProbeVerdict> {
  const { check } = t
  // timeout 0 ("off") would let a dead target hang a probe forever: the interval is the limit then.
  const timeout = check.timeout > 0 ? Math.min(check.timeout, MAX_TIMER_MS) : clampInterval(check.interval)
  const where = { host: t.host, port: check.port === 'traffic-port' ? t.port : check.port, timeout }
  if (check.protocol === 'tcp') return probeTcp(where, signal)
  return probeHttp({
    ...where, path: check.path, hostHeader: check.host ?? t.address, matcher: check.matcher,
    tls: check.protocol === 'https' ? t.tls ?? {} : undefined,
  }, signal)
}
