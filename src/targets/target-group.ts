/**
 * A target group at run time: its targets split into primaries and backups, one algorithm per tier, and
 * the rules that decide which targets may take a request (eligibility) before the algorithm picks one.
 * Built anew on every reload; the live numbers live in the shared `TargetState`s.
 */
import type { Algorithm, AlgorithmFactory, RequestFacts, Target } from '../balancing/algorithm.ts'
import type { RetryCondition, TargetGroupConfig } from '../config/schema.ts'
import { passivelyAvailable, type PassivePolicy } from '../health/passive.ts'
import type { TargetStateStore } from './target-state.ts'
import { admits, healthMode, type HealthMode, type HealthStore, type TargetHealth } from './target-health.ts'
import { RetryBudget } from './retry-budget.ts'

/** A target as a group holds it: what the algorithm sees, plus the group's limits for it. */
export interface GroupTarget extends Target {
  readonly host: string
  readonly port: number
  /** 0 = no limit. */
  readonly maxConns: number
  readonly backup: boolean
  /** This target's state in this group (initial, healthy, …), set by the control plane. */
  readonly health: TargetHealth
}

/** Which targets one request has already tried; a bit per target (tier, index). */
export class TriedSet {
  #bits = 0
  #more: Set<GroupTarget> | undefined
  add(t: GroupTarget): void {
    const bit = t.backup ? t.index + 16 : t.index
    if (bit < 31) this.#bits |= 1 << bit
    else (this.#more ??= new Set()).add(t)
  }
  has(t: GroupTarget): boolean {
    const bit = t.backup ? t.index + 16 : t.index
    return bit < 31 ? (this.#bits & (1 << bit)) !== 0 : this.#more?.has(t) === true
  }
  get empty(): boolean {
    return this.#bits === 0 && this.#more === undefined
  }
}

export class TargetGroup {
  readonly name: string
  readonly config: TargetGroupConfig
  readonly primaries: readonly GroupTarget[]
  readonly backups: readonly GroupTarget[]
  readonly passive: PassivePolicy
  readonly budget: RetryBudget
  readonly #retryOn: ReadonlySet<RetryCondition>
  readonly #primaryAlgorithm: Algorithm
  readonly #backupAlgorithm: Algorithm
  /** nginx ignores max_fails for a lone server: marking it down could only turn a blip into an outage. */
  readonly #passiveApplies: boolean
  readonly #healthStore: HealthStore
  #healthVersion = -1
  #primaryMode: HealthMode = 'none'
  #backupMode: HealthMode = 'none'

  constructor(name: string, config: TargetGroupConfig, store: TargetStateStore, health: HealthStore,
    factory: AlgorithmFactory, addressOf: (address: string) => { host: string; port: number }) {
    this.name = name
    this.config = config
    this.#healthStore = health
    // Without active checks a registered target is taken at its word; with them it must earn its place.
    const initial = config.healthCheck === undefined ? 'healthy' : 'initial'
    const primaries: GroupTarget[] = []
    const backups: GroupTarget[] = []
    for (const t of config.targets) {
      const tier = t.backup ? backups : primaries
      const { host, port } = addressOf(t.address)
      tier.push({
        address: t.address, host, port, index: tier.length, weight: t.weight, maxConns: t.maxConns,
        backup: t.backup, state: store.get(t.address), health: health.get(name, t.address, initial),
      })
    }
    this.primaries = primaries
    this.backups = backups
    this.passive = config.passive
    this.#passiveApplies = primaries.length + backups.length > 1
    this.budget = new RetryBudget(config.retries.budget.ratio, config.retries.budget.minPerSecond)
    this.#retryOn = new Set(config.retries.on)
    const options = { hashKey: config.hashKey }
    this.#primaryAlgorithm = factory(primaries, options)
    this.#backupAlgorithm = factory(backups, options)
  }

  get targets(): readonly GroupTarget[] {
    return this.backups.length === 0 ? this.primaries : [...this.primaries, ...this.backups]
  }

  retriesOn(condition: RetryCondition): boolean {
    return this.#retryOn.has(condition)
  }

  /** Passive failures of this group's targets count only when the group has more than one target. */
  get passiveApplies(): boolean {
    return this.#passiveApplies && this.passive.maxFails > 0
  }

  /**
   * The target for the next attempt of a request, or undefined when none may take it. Primaries first;
   * backups only when no primary is eligible. `tried` excludes targets that already failed this request.
   */
  pick(req: RequestFacts, tried: TriedSet | undefined, now: number): GroupTarget | undefined {
    if (this.#healthVersion !== this.#healthStore.version) this.#refreshModes()
    return this.#pickTier(this.primaries, this.#primaryAlgorithm, this.#primaryMode, req, tried, now)
      ?? (this.backups.length === 0 ? undefined
        : this.#pickTier(this.backups, this.#backupAlgorithm, this.#backupMode, req, tried, now))
  }

  /** Health changes are rare: the modes are recomputed only when the store's version moved. */
  #refreshModes(): void {
    this.#healthVersion = this.#healthStore.version
    this.#primaryMode = healthMode(this.primaries.map((t) => t.health.state), this.config.failOpen)
    this.#backupMode = healthMode(this.backups.map((t) => t.health.state), this.config.failOpen)
  }

  #eligible(t: GroupTarget, mode: HealthMode, tried: TriedSet | undefined, now: number): boolean {
    if (!admits(mode, t.health.state)) return false
    if (t.maxConns !== 0 && t.state.inFlight >= t.maxConns) return false
    if (this.#passiveApplies && !passivelyAvailable(t.state, now)) return false
    return tried === undefined || !tried.has(t)
  }

  #pickTier(tier: readonly GroupTarget[], algorithm: Algorithm, mode: HealthMode, req: RequestFacts,
    tried: TriedSet | undefined, now: number): GroupTarget | undefined {
    if (mode === 'none') return undefined
    // The common case, every target eligible, passes the tier itself: no array is built per request.
    let firstIneligible = -1
    for (let i = 0; i < tier.length; i++) {
      if (!this.#eligible(tier[i], mode, tried, now)) { firstIneligible = i; break }
    }
    if (firstIneligible === -1) {
      return tier.length === 0 ? undefined : algorithm.pick(tier, req) as GroupTarget | undefined
    }
    const eligible: GroupTarget[] = tier.slice(0, firstIneligible)
    for (let i = firstIneligible + 1; i < tier.length; i++) {
      if (this.#eligible(tier[i], mode, tried, now)) eligible.push(tier[i])
    }
    return eligible.length === 0 ? undefined : algorithm.pick(eligible, req) as GroupTarget | undefined
  }
}
