/**
 * The control plane: the configuration file, the targets registered by API (durable), the target states
 * (active health checks, draining), and the data plane it drives. Everything that changes targets goes
 * through here and ends in one of two calls to the data plane: `apply` (a new generation) or `setHealth`.
 */
import type { Logger } from 'pino'
import type { ReloadSummary } from '../balancer.ts'
import { parseTargetAddress } from '../config/address.ts'
import { formatProblem, loadConfig } from '../config/load.ts'
import type { Config, TargetConfig, TargetGroupConfig } from '../config/schema.ts'
import type { CheckResult, CheckTarget, HealthChecker, OnCheckResult } from '../health/checker.ts'
import { observeCheck, type CheckedState, type Streak } from '../health/thresholds.ts'
import { withDeregistered, withRegistered, withRestored, type DurableState, type StateStore } from '../state/state-store.ts'
import type { HealthStateName } from '../targets/target-health.ts'
import type { DataPlane, HealthUpdate } from './data-plane.ts'
import { ApiError } from './api-error.ts'
import { effectiveConfig } from './effective-config.ts'
import { reloadChanges, type ReloadChanges } from './config-diff.ts'
import { usedGroups } from '../config/used-groups.ts'

/** One target of one group as the control plane tracks it. */
export interface TargetRecord {
  readonly group: string
  readonly address: string
  weight: number
  source: 'file' | 'api'
  state: HealthStateName
  reason: string
  /** When `state` was entered (ms since the epoch). */
  since: number
  lastCheck: CheckResult | undefined
  readonly streak: Streak
}

export interface Transition {
  readonly group: string
  readonly address: string
  readonly from: HealthStateName
  readonly to: HealthStateName
  readonly reason: string
  readonly at: number
}

/**
 * Metrics of the control plane (src/observe/control-metrics.ts): told about health checks, reloads and
 * applied configurations, and asked for the Prometheus text of GET /metrics. It must not throw.
 */
export interface ControlPlaneObserver {
  checked(group: string, address: string, result: CheckResult): void
  reloaded(ok: boolean): void
  /** A configuration generation (the effective one: file plus API registrations) now serves. */
  applied(effective: Config): void
  /** The text of GET /metrics, with the data plane's metrics aggregated over its processes. */
  metrics(cp: ControlPlane): Promise<{ contentType: string; text: string }>
}

export interface ControlPlaneOptions {
  readonly configFile: string
  readonly config: Config
  readonly log: Logger
  readonly dataPlane: DataPlane
  readonly store: StateStore
  readonly checker: (onResult: OnCheckResult) => HealthChecker
  /** Wall clock (ms since the epoch), injected for tests. */
  readonly now?: () => number
  /** Metrics; none by default. */
  readonly observer?: ControlPlaneObserver
}

/** The summary adds what changed in place (routes, weights, settings) to what the data plane added or removed, for the reload log. */
export type ReloadResult = { ok: true; summary: ReloadSummary & ReloadChanges } | { ok: false; problems: string[] }

export type DrainOutcome = 'drained' | 'delay-expired' | 'not-draining'

interface Draining {
  readonly target: TargetConfig
  readonly until: number
  readonly timer: NodeJS.Timeout
  readonly poll: NodeJS.Timeout
  readonly done: Promise<DrainOutcome>
  readonly finish: (outcome: DrainOutcome) => void
}

const key = (group: string, address: string): string => `${group}\n${address}`

export class ControlPlane {
  readonly configFile: string
  readonly dataPlane: DataPlane
  readonly observer: ControlPlaneObserver | undefined
  readonly #log: Logger
  readonly #store: StateStore
  readonly #checker: HealthChecker
  readonly #now: () => number
  #config: Config
  #state: DurableState = { version: 1, groups: {} }
  readonly #records = new Map<string, TargetRecord>()
  readonly #draining = new Map<string, Draining>()
  /** Recent state transitions, newest last, for the status API and dashboard. */
  readonly transitions: Transition[] = []
  /** Serialises changes: a reload and an API call never interleave. */
  #queue: Promise<unknown> = Promise.resolve()
  #stopped = false

  constructor(options: ControlPlaneOptions) {
    this.configFile = options.configFile
    this.#config = options.config
    this.#log = options.log
    this.dataPlane = options.dataPlane
    this.observer = options.observer
    this.#store = options.store
    this.#now = options.now ?? Date.now
    this.#checker = options.checker((group, address, result) => this.#onCheck(group, address, result))
  }

  get config(): Config {
    return this.#config
  }

  records(): TargetRecord[] {
    return [...this.#records.values()]
  }

  record(group: string, address: string): TargetRecord | undefined {
    return this.#records.get(key(group, address))
  }

  async start(): Promise<void> {
    this.#state = await this.#store.load()
    const effective = this.#effective()
    const updates = this.#syncRecords(effective)
    await this.dataPlane.start(effective, updates)
    this.observer?.applied(effective)
    this.#updateChecks(effective)
  }

  /** Re-read the file. A bad file changes nothing and returns its problems. */
  reload(): Promise<ReloadResult> {
    return this.#serial(async (): Promise<ReloadResult> => {
      const loaded = await loadConfig(this.configFile)
      if (!loaded.ok) {
        this.observer?.reloaded(false)
        return { ok: false, problems: loaded.problems.map(formatProblem) }
      }
      for (const w of loaded.warnings) this.#log.warn(w)
      const previous = this.#config
      const before = this.#effective()
      this.#config = loaded.config
      try {
        const summary = await this.#apply()
        this.observer?.reloaded(true)
        return { ok: true, summary: { ...summary, ...reloadChanges(before, this.#effective()) } }
      } catch (err) {
        this.#config = previous
        this.observer?.reloaded(false)
        return { ok: false, problems: [(err as Error).message] }
      }
    })
  }

  /** Register a target; resolves once it is durable and applied. */
  register(group: string, address: string, weight: number): Promise<TargetRecord> {
    return this.#serial(async () => {
      const config = this.#groupConfig(group)
      const parsed = parseTargetAddress(address)
      if ('error' in parsed) throw new ApiError(400, 'invalid_address', parsed.error)
      if (!Number.isInteger(weight) || weight < 1 || weight > 1_000_000) {
        throw new ApiError(400, 'invalid_weight', `weight must be a whole number from 1 to 1000000, found ${JSON.stringify(weight)}`)
      }
      const draining = this.#draining.get(key(group, address))
      if (draining !== undefined) draining.finish('not-draining')
      // Re-registering a file target at its file weight (as a rollout does) only lifts the deregistration,
      // so later weight edits in the file still apply.
      const fileTarget = config.targets.find((t) => t.address === address)
      const next = fileTarget !== undefined && fileTarget.weight === weight
        ? withRestored(this.#state, group, address)
        : withRegistered(this.#state, group, { address, weight })
      await this.#store.save(next)
      this.#state = next
      await this.#apply()
      return this.#records.get(key(group, address)) as TargetRecord
    })
  }

  /**
   * Deregister: the target turns draining at once (no new requests), and leaves the group when it has no
   * request in flight or when the group's deregistrationDelay has passed, whichever comes first.
   */
  deregister(group: string, address: string): Promise<{ until: number; done: Promise<DrainOutcome> }> {
    return this.#serial(async () => {
      const config = this.#groupConfig(group)
      const k = key(group, address)
      const record = this.#records.get(k)
      if (record === undefined) throw new ApiError(404, 'target_not_found', `target ${address} is not registered in target group "${group}"`)
      const existing = this.#draining.get(k)
      if (existing !== undefined) return { until: existing.until, done: existing.done }
      const inFile = config.targets.some((t) => t.address === address)
      const next = withDeregistered(this.#state, group, address, inFile)
      await this.#store.save(next)
      this.#state = next
      const target = this.#currentTarget(group, address)
      const draining = this.#startDraining(group, address, target, config.deregistrationDelay)
      this.#setState(record, 'draining', 'deregistered')
      this.dataPlane.setHealth([{ group, address, state: 'draining' }])
      this.#updateChecks(this.#effective())
      return { until: draining.until, done: draining.done }
    })
  }

  /** Resolves when a draining target has left (or at once when it is not draining). */
  drained(group: string, address: string): Promise<DrainOutcome> {
    return this.#draining.get(key(group, address))?.done ?? Promise.resolve('not-draining')
  }

  async stop(drainTimeout = this.#config.drainTimeout): Promise<void> {
    this.#stopped = true
    this.#checker.stop()
    for (const d of this.#draining.values()) { clearTimeout(d.timer); clearInterval(d.poll) }
    await this.dataPlane.stop(drainTimeout)
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => {})
    return run
  }

  #groupConfig(group: string): TargetGroupConfig {
    const config = this.#config.targetGroups[group]
    if (config === undefined) throw new ApiError(404, 'group_not_found', `no target group "${group}" in ${this.configFile}`)
    return config
  }

  #currentTarget(group: string, address: string): TargetConfig {
    const found = this.#effective().targetGroups[group]?.targets.find((t) => t.address === address)
    return found ?? { address, weight: 1, maxConns: 0, backup: false }
  }

  #effective(): Config {
    const draining = new Map<string, TargetConfig[]>()
    for (const [k, d] of this.#draining) {
      const group = k.slice(0, k.indexOf('\n'))
      draining.set(group, [...(draining.get(group) ?? []), d.target])
    }
    return effectiveConfig(this.#config, this.#state, draining)
  }

  async #apply(): Promise<ReloadSummary> {
    const effective = this.#effective()
    const updates = this.#syncRecords(effective)
    const summary = await this.dataPlane.apply(effective, updates)
    this.observer?.applied(effective)
    this.#updateChecks(effective)
    return summary
  }

  /**
   * Bring the records in line with a new effective config: new targets start initial (or healthy when
   * the group has no checks), targets of groups no route uses are unused, vanished ones are forgotten.
   * Returns every target's state for the data plane.
   */
  #syncRecords(effective: Config): HealthUpdate[] {
    const used = usedGroups(effective)
    const seen = new Set<string>()
    const updates: HealthUpdate[] = []
    for (const [group, g] of Object.entries(effective.targetGroups)) {
      const fileTargets = new Set(this.#config.targetGroups[group]?.targets.map((t) => t.address))
      for (const t of g.targets) {
        const k = key(group, t.address)
        seen.add(k)
        let record = this.#records.get(k)
        if (record === undefined) {
          record = {
            group, address: t.address, weight: t.weight, source: fileTargets.has(t.address) ? 'file' : 'api',
            state: g.healthCheck === undefined ? 'healthy' : 'initial',
            reason: g.healthCheck === undefined ? 'registered; no health check configured' : 'registered; awaiting health checks',
            since: this.#now(), lastCheck: undefined, streak: { passes: 0, fails: 0 },
          }
          this.#records.set(k, record)
          this.#logTransition(record, 'initial')
        }
        record.weight = t.weight
        record.source = fileTargets.has(t.address) ? 'file' : 'api'
        if (this.#draining.has(k)) this.#setState(record, 'draining', 'deregistered')
        else if (!used.has(group)) this.#setState(record, 'unused', 'no route forwards to this target group')
        else if (record.state === 'unused' || record.state === 'draining') {
          this.#setState(record, g.healthCheck === undefined ? 'healthy' : 'initial',
            g.healthCheck === undefined ? 'in use; no health check configured' : 'in use; awaiting health checks')
        } else if (g.healthCheck === undefined && record.state !== 'healthy') {
          this.#setState(record, 'healthy', 'health check removed from the configuration')
        }
        updates.push({ group, address: t.address, state: record.state })
      }
    }
    for (const k of [...this.#records.keys()]) if (!seen.has(k)) this.#records.delete(k)
    return updates
  }

  #updateChecks(effective: Config): void {
    if (this.#stopped) return
    const targets: CheckTarget[] = []
    for (const [group, g] of Object.entries(effective.targetGroups)) {
      if (g.healthCheck === undefined) continue
      for (const t of g.targets) {
        const record = this.#records.get(key(group, t.address))
        if (record === undefined || record.state === 'draining' || record.state === 'unused') continue
        const parsed = parseTargetAddress(t.address)
        if ('error' in parsed) continue
        const protocol = g.healthCheck.protocol ?? (g.protocol === 'https' ? 'https' : 'http')
        targets.push({ group, address: t.address, host: parsed.host, port: parsed.port, check: { ...g.healthCheck, protocol }, tls: g.tls })
      }
    }
    this.#checker.update(targets)
  }

  #onCheck(group: string, address: string, result: CheckResult): void {
    const record = this.#records.get(key(group, address))
    const check = this.#effective().targetGroups[group]?.healthCheck
    if (record === undefined || check === undefined) return
    record.lastCheck = result
    this.observer?.checked(group, address, result)
    if (record.state === 'draining' || record.state === 'unused') return
    const next = observeCheck(record.state as CheckedState, record.streak, result.ok, check)
    if (next === record.state) return
    const reason = result.ok
      ? `${check.healthyThreshold} check${check.healthyThreshold === 1 ? '' : 's'} passed in a row (${result.detail})`
      : `${check.unhealthyThreshold} check${check.unhealthyThreshold === 1 ? '' : 's'} failed in a row (${result.detail})`
    this.#setState(record, next, reason)
    this.dataPlane.setHealth([{ group, address, state: next }])
  }

  #setState(record: TargetRecord, state: HealthStateName, reason: string): void {
    if (record.state === state) return
    const from = record.state
    record.state = state
    record.reason = reason
    record.since = this.#now()
    record.streak.passes = 0
    record.streak.fails = 0
    this.#logTransition(record, from)
  }

  #logTransition(record: TargetRecord, from: HealthStateName): void {
    const t: Transition = { group: record.group, address: record.address, from, to: record.state, reason: record.reason, at: record.since }
    this.transitions.push(t)
    if (this.transitions.length > 200) this.transitions.shift()
    const fields = { group: t.group, target: t.address, from: t.from, to: t.to, reason: t.reason }
    // A new record's first entry is its registration, not a change; losing a target is worth a warning.
    if (t.from === t.to) this.#log.info(fields, 'target registered')
    else if (t.to === 'unhealthy') this.#log.warn(fields, 'target state changed')
    else this.#log.info(fields, 'target state changed')
  }

  #startDraining(group: string, address: string, target: TargetConfig, delay: number): Draining {
    const k = key(group, address)
    let finish: (outcome: DrainOutcome) => void = () => {}
    const done = new Promise<DrainOutcome>((resolve) => { finish = resolve })
    const end = (outcome: DrainOutcome): void => {
      const d = this.#draining.get(k)
      if (d === undefined) return
      clearTimeout(d.timer)
      clearInterval(d.poll)
      this.#draining.delete(k)
      finish(outcome)
      if (outcome === 'not-draining' || this.#stopped) return
      this.#log.info({ group, target: address, outcome }, outcome === 'drained'
        ? 'deregistered target drained: removed' : 'deregistration delay passed: removed')
      void this.#serial(() => this.#apply()).catch((err) => this.#log.error({ err }, 'applying a deregistration failed'))
    }
    // ALB: a deregistering target without requests in flight leaves at once; else at the delay's end.
    const poll = setInterval(() => {
      void this.dataPlane.inFlight().then((counts) => { if ((counts[address] ?? 0) === 0) end('drained') })
    }, 100)
    const timer = setTimeout(() => end('delay-expired'), delay)
    const d: Draining = { target, until: this.#now() + delay, timer, poll, done, finish: end }
    this.#draining.set(k, d)
    return d
  }
}
