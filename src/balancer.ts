/**
 * The running balancer: one generation of configuration at a time. `start` opens the listeners; `reload`
 * builds a whole new model first (if that fails, the old one keeps serving), opens new listeners, swaps
 * the model into listeners that stay, and drains the ones that go; `stop` drains everything.
 * Target state and connection pools outlive generations, so unchanged targets keep both.
 */
import type { Logger } from 'pino'
import type { Config } from './config/schema.ts'
import { buildModel, type AnyListenerModel, type Model } from './model/build.ts'
import { HttpListener } from './listeners/http.ts'
import { DatagramListener } from './listeners/datagram.ts'
import type { Listener } from './listeners/listener.ts'
import { StreamListener } from './listeners/stream.ts'
import { TargetStateStore } from './targets/target-state.ts'
import { HealthStore } from './targets/target-health.ts'
import type { RequestObserver } from './observe/observer.ts'
import { PoolRegistry, poolSettings } from './upstream/pool.ts'
import { RateLimitZones } from './protection/rate-limit.ts'
import { ConnectionCap } from './protection/connection-counter.ts'
import type { ProxyContext } from './upstream/proxy.ts'

export interface ReloadSummary {
  readonly listenersAdded: string[]
  readonly listenersRemoved: string[]
  readonly targetsAdded: string[]
  readonly targetsRemoved: string[]
}

export interface BalancerOptions {
  readonly log: Logger
  readonly store?: TargetStateStore
  readonly health?: HealthStore
  /** Metrics and access logs (issue 6); none by default. */
  readonly observer?: RequestObserver
  readonly now?: () => number
  /** Listen with SO_REUSEPORT, so that worker processes share each port (src/worker/main.ts). Default false. */
  readonly reusePort?: boolean
}

function targetKeys(model: Model): Set<string> {
  const keys = new Set<string>()
  for (const g of model.groups.values()) for (const t of g.targets) keys.add(`${g.name}/${t.address}`)
  return keys
}

export class Balancer {
  readonly store: TargetStateStore
  readonly health: HealthStore
  readonly pools = new PoolRegistry()
  /** Rate-limit buckets, kept across reloads (src/protection/rate-limit.ts). */
  readonly rateZones = new RateLimitZones()
  readonly #cap = new ConnectionCap()
  readonly #log: Logger
  readonly #ctx: ProxyContext
  readonly #listeners = new Map<string, Listener>()
  readonly #reusePort: boolean
  #model: Model | undefined

  constructor(options: BalancerOptions) {
    this.#log = options.log
    this.#reusePort = options.reusePort ?? false
    this.store = options.store ?? new TargetStateStore()
    this.health = options.health ?? new HealthStore(options.now)
    const log = options.log
    this.#ctx = {
      connectionCap: this.#cap,
      pools: this.pools,
      now: options.now ?? (() => performance.now()),
      observer: options.observer,
      onTargetDown: (group, target, reason) =>
        log.warn({ group: group.name, target: target.address, reason, for: group.passive.failTimeout }, 'target marked down (passive)'),
      onTargetUp: (group, target) => {
        // A passive recovery is a new entry into service: slow start ramps it like a newly healthy target.
        group.recovered(target)
        log.info({ group: group.name, target: target.address }, 'target back up (trial request passed)')
      },
    }
  }

  get model(): Model | undefined {
    return this.#model
  }

  /** Bound ports by listener name (for tests and logs; a config may ask for port 0). */
  ports(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const l of this.#listeners.values()) out[l.model.name] = l.port
    return out
  }

  /** The running listener with this name (status and tests). */
  listener(name: string): Listener | undefined {
    for (const l of this.#listeners.values()) if (l.model.name === name) return l
    return undefined
  }

  /** Requests in flight per target address (every group that lists it). */
  inFlight(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const g of this.#model?.groups.values() ?? []) for (const t of g.targets) out[t.address] = t.state.inFlight
    return out
  }

  async start(config: Config): Promise<void> {
    const model = buildModel(config, this.store, this.health, this.rateZones)
    this.#cap.max = config.maxConnections
    const opened: Listener[] = []
    try {
      for (const lm of model.listeners) {
        const listener = this.#create(lm)
        await listener.listen({ reusePort: this.#reusePort })
        opened.push(listener)
        this.#listeners.set(lm.key, listener)
      }
    } catch (err) {
      await Promise.all(opened.map((l) => l.close(0)))
      this.#listeners.clear()
      throw err
    }
    this.#model = model
    for (const l of opened) this.#log.info({ listener: l.model.name, port: l.port }, 'listening')
  }

  /** Applies a validated config. Throws (and changes nothing) when the new listeners cannot open. */
  async reload(config: Config): Promise<ReloadSummary> {
    const old = this.#model
    if (old === undefined) throw new Error('reload before start')
    const model = buildModel(config, this.store, this.health, this.rateZones)
    const wanted = new Map(model.listeners.map((l) => [l.key, l]))
    const added: Listener[] = []
    try {
      for (const [key, lm] of wanted) {
        if (this.#listeners.has(key)) continue
        const listener = this.#create(lm)
        await listener.listen({ reusePort: this.#reusePort })
        added.push(listener)
      }
    } catch (err) {
      await Promise.all(added.map((l) => l.close(0)))
      throw err
    }
    const removed: Listener[] = []
    for (const [key, listener] of this.#listeners) {
      const lm = wanted.get(key)
      if (lm === undefined) removed.push(listener)
      else listener.update(lm)
    }
    for (const l of removed) this.#listeners.delete(l.model.key)
    for (const l of added) this.#listeners.set(l.model.key, l)
    this.#model = model
    this.#cap.max = config.maxConnections
    // Old listeners finish their requests in the background.
    for (const l of removed) void l.close(config.drainTimeout)
    this.#retainTargets(model)
    this.rateZones.retain(model.rateLimitZones)
    const before = targetKeys(old)
    const after = targetKeys(model)
    return {
      listenersAdded: added.map((l) => l.model.name),
      listenersRemoved: removed.map((l) => l.model.name),
      targetsAdded: [...after].filter((k) => !before.has(k)),
      targetsRemoved: [...before].filter((k) => !after.has(k)),
    }
  }

  #create(lm: AnyListenerModel): Listener {
    if (lm.kind === 'stream') return new StreamListener(lm, this.#ctx)
    if (lm.kind === 'datagram') return new DatagramListener(lm, this.#ctx)
    return new HttpListener(lm, this.#ctx)
  }

  #retainTargets(model: Model): void {
    const keep: Array<{ host: string; port: number; settings: ReturnType<typeof poolSettings> }> = []
    const addresses = new Set<string>()
    for (const g of model.groups.values()) {
      const settings = poolSettings(g.config)
      for (const t of g.targets) {
        keep.push({ host: t.host, port: t.port, settings })
        addresses.add(t.address)
      }
    }
    this.pools.retain(keep)
    this.store.retain(addresses)
    const pairs = new Set<string>()
    for (const g of model.groups.values()) for (const t of g.targets) pairs.add(`${g.name}\n${t.address}`)
    this.health.retain(pairs)
  }

  /** Stop accepting, let requests in flight finish within the drain timeout, close upstream pools. */
  async stop(drainTimeout = this.#model?.config.drainTimeout ?? 0): Promise<void> {
    const listeners = [...this.#listeners.values()]
    this.#listeners.clear()
    await Promise.all(listeners.map((l) => l.close(drainTimeout)))
    await this.pools.destroyAll()
  }
}
