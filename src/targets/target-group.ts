/**
 * A target group at run time: its targets split into primaries and backups, one algorithm per tier, and
 * the rules that decide which targets may take a request (eligibility) before the algorithm picks one.
 * Built anew on every reload; the live numbers live in the shared `TargetState`s. Optional per group:
 * slow start (`slow-start.ts`, ramps the weights the algorithm reads) and stickiness (`stickiness.ts`, a
 * cookie names the target to take before the algorithm is asked).
 */
import type { Algorithm, AlgorithmFactory, RequestFacts, Target } from '../balancing/algorithm.ts'
import type { RetryCondition, TargetGroupConfig } from '../config/schema.ts'
import { passivelyAvailable, type PassivePolicy } from '../health/passive.ts'
import type { TargetStateStore } from './target-state.ts'
import { admits, healthMode, type HealthMode, type HealthStore, type TargetHealth } from './target-health.ts'
import { RetryBudget } from './retry-budget.ts'
import { rampPolicy, SlowStart } from './slow-start.ts'
import { Stickiness } from './stickiness.ts'

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
  /** Undefined when the group has no stickiness: then requests pay nothing for it. */
  readonly stickiness: Stickiness | undefined
  readonly #retryOn: ReadonlySet<RetryCondition>
  readonly #primaryAlgorithm: Algorithm
  readonly #backupAlgorithm: Algorithm
  /** nginx ignores max_fails for a lone server: marking it down could only turn a blip into an outage. */
  readonly #passiveApplies: boolean
  readonly #healthStore: HealthStore
  /** Undefined when the group has no slow start: then its targets' weights are plain fields. */
  readonly #slowStart: SlowStart | undefined
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
    const policy = rampPolicy(config)
    const slowStart = policy === undefined ? undefined : new SlowStart(policy)
    this.#slowStart = slowStart
    const primaries: GroupTarget[] = []
    const backups: GroupTarget[] = []
    for (const t of config.targets) {
      const tier = t.backup ? backups : primaries
      const { host, port } = addressOf(t.address)
      const target: GroupTarget = {
        address: t.address, host, port, index: tier.length, weight: t.weight, maxConns: t.maxConns,
        backup: t.backup, state: store.get(t.address), health: health.get(name, t.address, initial),
      }
      tier.push(target)
      slowStart?.add(target)
    }
    this.primaries = primaries
    this.backups = backups
    this.passive = config.passive
    this.#passiveApplies = primaries.length + backups.length > 1
    this.budget = new RetryBudget(config.retries.budget.ratio, config.retries.budget.minPerSecond)
    this.#retryOn = new Set(config.retries.on)
    this.stickiness = config.stickiness === undefined ? undefined
      : new Stickiness(name, config.stickiness, [...primaries, ...backups])
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
   * `sticky` (the target a stickiness cookie names) is taken when it is eligible, without the algorithm;
   * a sticky backup only while no primary is eligible, so its clients return when the primaries do.
   */
  pick(req: RequestFacts, tried: TriedSet | undefined, now: number, sticky?: GroupTarget): GroupTarget | undefined {
    if (this.#healthVersion !== this.#healthStore.version) this.#refreshModes(now)
    if (this.#slowStart !== undefined) this.#slowStart.tick(now)
    if (sticky !== undefined && this.#eligible(sticky, sticky.backup ? this.#backupMode : this.#primaryMode, tried, now)
      && (!sticky.backup || !this.#anyEligible(this.primaries, this.#primaryMode, tried, now))) return sticky
    return this.#pickTier(this.primaries, this.#primaryAlgorithm, this.#primaryMode, req, tried, now)
      ?? (this.backups.length === 0 ? undefined
        : this.#pickTier(this.backups, this.#backupAlgorithm, this.#backupMode, req, tried, now))
  }

  /**
   * A passed passive-health trial brought `target` back: slow start counts it as a new entry into healthy
   * (in every group listing the address, as passive health is per address).
   */
  recovered(target: GroupTarget): void {
    this.#healthStore.recovered(target.address)
  }

  /** Health changes are rare: the modes (and ramps) are recomputed only when the store's version moved. */
  #refreshModes(now: number): void {
    this.#healthVersion = this.#healthStore.version
    // One mode for the whole group, backups included (README: initial targets serve only while the group has
    // no healthy target, unhealthy ones only when all are): so a healthy backup serves before unhealthy primaries.
    const mode = healthMode(this.targets.map((t) => t.health.state), this.config.failOpen)
    this.#primaryMode = mode
    this.#backupMode = mode
    this.#slowStart?.refresh(now)
  }

  #anyEligible(tier: readonly GroupTarget[], mode: HealthMode, tried: TriedSet | undefined, now: number): boolean {
    if (mode === 'none') return false
    for (let i = 0; i < tier.length; i++) if (this.#eligible(tier[i], mode, tried, now)) return true
    return false
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
