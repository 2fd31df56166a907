/**
 * TargetGroup.pick over random groups, against the rules as README "Health checks and target states",
 * "Algorithms" and "Passive health" state them:
 *
 * - draining and unused targets never take new requests; nor does a target at its `maxConns`, one passively
 *   down (before `downUntil`, or after it while its one trial request is in flight; ignored in a group of one
 *   target), or one this request already tried;
 * - healthy targets take requests; `initial` ones only while the group has no healthy target; `unhealthy`
 *   ones only when every (registered) target is unhealthy and `failOpen` is true (ALB fail-open);
 * - backups only when no primary can take the request;
 * - weights: smooth weighted round robin gives each eligible target exactly its weight's share over whole
 *   rounds (round-robin; least-conn and least-time while idle); random and p2c within sampling error.
 *
 * The group is built as build.ts builds it (schema-parsed config, a TargetStateStore, a HealthStore, an
 * algorithm from the registry). Nothing changes between picks, so the eligible set is fixed for each case.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { algorithms } from '../balancing/registry.ts'
import { request } from '../balancing/testing.ts'
import { ALGORITHMS, targetGroup, type AlgorithmName, type TargetGroupConfig } from '../config/schema.ts'
import { TargetGroup, TriedSet, type GroupTarget } from './target-group.ts'
import { HealthStore, type HealthStateName } from './target-health.ts'
import { TargetStateStore } from './target-state.ts'

const NOW = 1_000_000
const PICKS = 2_000

type Passive = 'up' | 'down' | 'expired' | 'trial'
interface TargetCase {
  readonly weight: number
  readonly backup: boolean
  readonly maxConns: number
  readonly inFlight: number
  readonly health: HealthStateName
  readonly passive: Passive
  readonly tried: boolean
}
interface GroupCase {
  readonly algorithm: AlgorithmName
  readonly failOpen: boolean
  readonly healthCheck: boolean
  readonly useTried: boolean
  readonly targets: readonly TargetCase[]
}

const targetCase = (opts: { backup?: fc.Arbitrary<boolean>; health?: fc.Arbitrary<HealthStateName> } = {}): fc.Arbitrary<TargetCase> =>
  fc.record({
    weight: fc.integer({ min: 1, max: 10 }),
    backup: opts.backup ?? fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    maxConns: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
    inFlight: fc.integer({ min: 0, max: 4 }),
    health: opts.health ?? fc.oneof(
      { weight: 4, arbitrary: fc.constant<HealthStateName>('healthy') },
      { weight: 2, arbitrary: fc.constant<HealthStateName>('initial') },
      { weight: 3, arbitrary: fc.constant<HealthStateName>('unhealthy') },
      { weight: 1, arbitrary: fc.constant<HealthStateName>('draining') },
      { weight: 1, arbitrary: fc.constant<HealthStateName>('unused') },
    ),
    passive: fc.oneof(
      { weight: 5, arbitrary: fc.constant<Passive>('up') },
      { weight: 1, arbitrary: fc.constantFrom<Passive>('down', 'expired', 'trial') },
    ),
    tried: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  })

const groupCase = (targets: fc.Arbitrary<TargetCase[]>, algorithm = fc.constantFrom(...ALGORITHMS)): fc.Arbitrary<GroupCase> =>
  fc.record({ algorithm, failOpen: fc.boolean(), healthCheck: fc.boolean(), useTried: fc.boolean(), targets })

const address = (i: number) => `10.0.${i >> 8}.${i & 255}:80`

interface Built {
  readonly group: TargetGroup
  /** The case of each GroupTarget, by address. */
  readonly caseOf: ReadonlyMap<string, TargetCase>
  readonly tried: TriedSet | undefined
}

function build(c: GroupCase): Built {
  const config = targetGroup.parse({
    algorithm: c.algorithm,
    hashKey: 'header:x-key',
    failOpen: c.failOpen,
    passive: { maxFails: 1, failTimeout: 10_000 },
    ...(c.healthCheck ? { healthCheck: { path: '/health' } } : {}),
    targets: c.targets.map((t, i) => ({ address: address(i), weight: t.weight, maxConns: t.maxConns, backup: t.backup })),
  }) as TargetGroupConfig
  const store = new TargetStateStore()
  const health = new HealthStore(() => 0)
  const group = new TargetGroup('app', config, store, health, algorithms[c.algorithm],
    (a) => ({ host: a.slice(0, a.lastIndexOf(':')), port: 80 }))
  const caseOf = new Map<string, TargetCase>()
  const tried = c.useTried ? new TriedSet() : undefined
  for (const [i, t] of c.targets.entries()) {
    caseOf.set(address(i), t)
    health.set('app', address(i), t.health)
    const state = store.get(address(i))
    state.inFlight = t.inFlight
    if (t.passive === 'down') state.downUntil = NOW + 5_000
    if (t.passive === 'expired') state.downUntil = NOW - 1
    if (t.passive === 'trial') { state.downUntil = NOW - 1; state.trialInFlight = true }
  }
  if (tried !== undefined) {
    for (const t of group.targets) if (caseOf.get(t.address)!.tried) tried.add(t)
  }
  return { group, caseOf, tried }
}

/** Which health states may take requests now, from every registered target of the group (README's table). */
function admittedStates(c: GroupCase): ReadonlySet<HealthStateName> {
  const registered = c.targets.filter((t) => t.health !== 'draining' && t.health !== 'unused')
  if (registered.some((t) => t.health === 'healthy')) return new Set(['healthy'])
  if (registered.some((t) => t.health === 'initial')) return new Set(['initial'])
  if (registered.length > 0 && registered.every((t) => t.health === 'unhealthy') && c.failOpen) return new Set(['unhealthy'])
  return new Set()
}

/** Whether `t` may take this request, ignoring the backup rule. */
function mayTake(c: GroupCase, t: TargetCase): boolean {
  if (!admittedStates(c).has(t.health)) return false
  if (t.maxConns !== 0 && t.inFlight >= t.maxConns) return false
  // nginx (and the README): a group of one target is never held down by passive health.
  if (c.targets.length > 1 && (t.passive === 'down' || t.passive === 'trial')) return false
  return !(c.useTried && t.tried)
}

/** The addresses the group may pick from: the eligible primaries, else the eligible backups. */
function referenceEligible(c: GroupCase): Set<string> {
  const primaries = c.targets.flatMap((t, i) => (!t.backup && mayTake(c, t) ? [address(i)] : []))
  if (primaries.length > 0) return new Set(primaries)
  return new Set(c.targets.flatMap((t, i) => (t.backup && mayTake(c, t) ? [address(i)] : [])))
}

const keyed = (i: number) => request({ url: `/k/${i % 97}`, clientIp: `192.0.2.${i % 251}`, headers: { 'x-key': `key-${i % 89}` } })

function picks(built: Built, n: number): (GroupTarget | undefined)[] {
  const out: (GroupTarget | undefined)[] = []
  for (let i = 0; i < n; i++) out.push(built.group.pick(keyed(i), built.tried, NOW))
  return out
}

function describe(c: GroupCase): string {
  return `${c.algorithm} failOpen=${c.failOpen} tried=${c.useTried} targets=${JSON.stringify(c.targets.map((t, i) => ({ a: address(i), ...t })))}`
}

// ---- (a) eligibility ------------------------------------------------------------------------------------------

test('never a draining, unused, full, passively down or tried target, whatever the group', () => {
  fc.assert(fc.property(groupCase(fc.array(targetCase(), { minLength: 1, maxLength: 8 })), (c) => {
    const built = build(c)
    for (const t of picks(built, 300)) {
      if (t === undefined) continue
      const tc = built.caseOf.get(t.address)!
      const shown = `picked ${t.address} (${JSON.stringify(tc)}) in ${describe(c)}`
      assert.ok(tc.health !== 'draining' && tc.health !== 'unused', shown)
      assert.ok(tc.maxConns === 0 || tc.inFlight < tc.maxConns, shown)
      if (c.targets.length > 1) assert.ok(tc.passive === 'up' || tc.passive === 'expired', shown)
      assert.ok(!(c.useTried && tc.tried), shown)
    }
  }), { numRuns: 400 })
})

test('without backups: picks exactly from the targets the README rules allow, and answer iff there is one', () => {
  const cases = groupCase(fc.array(targetCase({ backup: fc.constant(false) }), { minLength: 1, maxLength: 8 }))
  fc.assert(fc.property(cases, (c) => {
    const built = build(c)
    const allowed = referenceEligible(c)
    for (const t of picks(built, 200)) {
      if (allowed.size === 0) assert.equal(t?.address, undefined, `nothing may be picked in ${describe(c)}`)
      else assert.ok(t !== undefined && allowed.has(t.address), `picked ${t?.address}, allowed ${[...allowed]} in ${describe(c)}`)
    }
  }), { numRuns: 500 })
})

// Known to fail (reported): pick() decides the health mode per tier (primaries, then backups) rather than for
// the group, so unhealthy primaries are used fail-open while a healthy backup is idle, and initial primaries
// while the group has a healthy backup; see the two explicit cases below.
test('with backups: picks exactly from the targets the README rules allow; backups only when no primary can', () => {
  fc.assert(fc.property(groupCase(fc.array(targetCase(), { minLength: 1, maxLength: 8 })), (c) => {
    const built = build(c)
    const allowed = referenceEligible(c)
    for (const t of picks(built, 200)) {
      if (allowed.size === 0) assert.equal(t?.address, undefined, `nothing may be picked in ${describe(c)}`)
      else assert.ok(t !== undefined && allowed.has(t.address), `picked ${t?.address}, allowed ${[...allowed]} in ${describe(c)}`)
    }
  }), { numRuns: 500 })
})

test('a healthy backup is used before unhealthy primaries fail open', () => {
  const c: GroupCase = {
    algorithm: 'round-robin', failOpen: true, healthCheck: true, useTried: false,
    targets: [
      { weight: 1, backup: false, maxConns: 0, inFlight: 0, health: 'unhealthy', passive: 'up', tried: false },
      { weight: 1, backup: false, maxConns: 0, inFlight: 0, health: 'unhealthy', passive: 'up', tried: false },
      { weight: 1, backup: true, maxConns: 0, inFlight: 0, health: 'healthy', passive: 'up', tried: false },
    ],
  }
  const built = build(c)
  assert.deepEqual(picks(built, 4).map((t) => t?.address), Array(4).fill(address(2)))
})

test('a healthy backup is used before primaries that have no verdict yet (initial)', () => {
  const c: GroupCase = {
    algorithm: 'round-robin', failOpen: true, healthCheck: true, useTried: false,
    targets: [
      { weight: 1, backup: false, maxConns: 0, inFlight: 0, health: 'initial', passive: 'up', tried: false },
      { weight: 1, backup: true, maxConns: 0, inFlight: 0, health: 'healthy', passive: 'up', tried: false },
    ],
  }
  const built = build(c)
  assert.deepEqual(picks(built, 4).map((t) => t?.address), Array(4).fill(address(1)))
})

// ---- (b) fail-open -------------------------------------------------------------------------------------------

test('every target unhealthy: failOpen keeps picking (among all of them), failOpen false picks nothing', () => {
  const unhealthy = targetCase({ health: fc.constant('unhealthy'), backup: fc.boolean() })
    .map((t): TargetCase => ({ ...t, maxConns: 0, passive: 'up', tried: false }))
  fc.assert(fc.property(groupCase(fc.array(unhealthy, { minLength: 1, maxLength: 8 })), (c) => {
    const built = build(c)
    const got = picks(built, 100)
    if (!c.failOpen) {
      assert.ok(got.every((t) => t === undefined), `failOpen false, yet a pick in ${describe(c)}`)
      return
    }
    const primaries = new Set(c.targets.flatMap((t, i) => (t.backup ? [] : [address(i)])))
    const tier = primaries.size > 0 ? primaries : new Set(c.targets.map((_, i) => address(i)))
    for (const t of got) assert.ok(t !== undefined && tier.has(t.address), `picked ${t?.address} in ${describe(c)}`)
  }), { numRuns: 300 })
})

// ---- (c) weights -----------------------------------------------------------------------------------------------

/**
 * A group whose eligible targets stay fixed; `idle` puts every in-flight count at 0. Backups only in a group
 * of backups, so that the shares do not hang on the per-tier question the tests above report.
 */
function sharesCase(algorithm: fc.Arbitrary<AlgorithmName>, idle: boolean): fc.Arbitrary<GroupCase> {
  const tier = fc.boolean().chain((backup) => fc.array(targetCase({ backup: fc.constant(backup) }), { minLength: 1, maxLength: 6 }))
  return groupCase(tier, algorithm)
    .map((c) => (idle ? { ...c, targets: c.targets.map((t) => ({ ...t, inFlight: 0 })) } : c))
    .filter((c) => referenceEligible(c).size > 0)
}

function counts(built: Built, n: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const t of picks(built, n)) {
    assert.ok(t !== undefined)
    out.set(t.address, (out.get(t.address) ?? 0) + 1)
  }
  return out
}

test('round-robin (any load), least-conn and least-time (idle): exactly the weights over whole rounds', () => {
  const cases = fc.oneof(sharesCase(fc.constant('round-robin'), false), sharesCase(fc.constantFrom('least-conn', 'least-time'), true))
  fc.assert(fc.property(cases, (c) => {
    const built = build(c)
    const allowed = referenceEligible(c)
    const weightOf = (a: string) => built.caseOf.get(a)!.weight
    const round = [...allowed].reduce((sum, a) => sum + weightOf(a), 0)
    const rounds = Math.max(1, Math.floor(PICKS / round))
    const got = counts(built, rounds * round)
    for (const a of allowed) assert.equal(got.get(a) ?? 0, weightOf(a) * rounds, `${a} in ${describe(c)}: ${JSON.stringify([...got])}`)
    for (const a of got.keys()) assert.ok(allowed.has(a), `${a} is not eligible in ${describe(c)}`)
  }), { numRuns: 200 })
})

test('random and p2c (idle): shares follow the weights within sampling error', () => {
  fc.assert(fc.property(sharesCase(fc.constantFrom('random', 'p2c'), true), (c) => {
    const built = build(c)
    const allowed = referenceEligible(c)
    const weightOf = (a: string) => built.caseOf.get(a)!.weight
    const total = [...allowed].reduce((sum, a) => sum + weightOf(a), 0)
    const got = counts(built, PICKS)
    for (const a of allowed) {
      const p = weightOf(a) / total
      // Six standard deviations of a binomial count: a false alarm about once in a billion targets.
      const slack = 6 * Math.sqrt(PICKS * p * (1 - p)) + 1
      const n = got.get(a) ?? 0
      assert.ok(Math.abs(n - PICKS * p) <= slack, `${a}: ${n} of ${PICKS}, expected ${(PICKS * p).toFixed(0)} ± ${slack.toFixed(0)} in ${describe(c)}`)
    }
  }), { numRuns: 100 })
})
