/**
 * What the control plane needs from the data plane, whether it runs in this process (workers: 1) or in
 * worker processes: apply a configuration generation, set target states, and report live numbers.
 */
import type { Logger } from 'pino'
import { Balancer, type ReloadSummary } from '../balancer.ts'
import type { Config } from '../config/schema.ts'
import type { HealthStateName } from '../targets/target-health.ts'
import { DataPlaneObserver, type MetricsJson, type ObserveOptions } from '../observe/data-plane-observer.ts'

export interface HealthUpdate {
  readonly group: string
  readonly address: string
  readonly state: HealthStateName
}

export interface DataPlane {
  /** Open the listeners of the first generation. Throws (nothing left open) when one cannot listen. */
  start(config: Config, health: readonly HealthUpdate[]): Promise<void>
  /** Swap in a new generation; states are applied first so new targets start in the right state. */
  apply(config: Config, health: readonly HealthUpdate[]): Promise<ReloadSummary>
  setHealth(updates: readonly HealthUpdate[]): void
  /** Requests in flight per target address, summed over every worker. */
  inFlight(): Promise<Record<string, number>>
  /** Bound port per listener name. */
  ports(): Promise<Record<string, number>>
  /** Each data-plane process's metrics (prom-client JSON), for the primary to aggregate; [] when off. */
  metrics(): Promise<MetricsJson[]>
  /** Open every access log file again (SIGUSR1, after logrotate moved them). */
  reopenLogs(): void
  stop(drainTimeout: number): Promise<void>
}

/** The data plane in this process: one Balancer. */
export class InProcessDataPlane implements DataPlane {
  readonly balancer: Balancer
  /** Metrics and access logs; only when `observe` was given. */
  readonly observer: DataPlaneObserver | undefined

  constructor(log: Logger, observe?: ObserveOptions) {
    this.observer = observe === undefined ? undefined : new DataPlaneObserver(log, observe)
    this.balancer = new Balancer({ log, observer: this.observer })
  }

  async start(config: Config, health: readonly HealthUpdate[]): Promise<void> {
    this.setHealth(health)
    // Logs open before the listeners, so the first request is logged.
    this.observer?.configure(config)
    await this.balancer.start(config)
  }

  async apply(config: Config, health: readonly HealthUpdate[]): Promise<ReloadSummary> {
    this.setHealth(health)
    const old = this.balancer.model?.config
    this.observer?.configure(config)
    try {
      return await this.balancer.reload(config)
    } catch (err) {
      if (old !== undefined) this.observer?.configure(old)
      throw err
    }
  }

  setHealth(updates: readonly HealthUpdate[]): void {
    for (const u of updates) this.balancer.health.set(u.group, u.address, u.state)
  }

  async inFlight(): Promise<Record<string, number>> {
    return this.balancer.inFlight()
  }

  async ports(): Promise<Record<string, number>> {
    return this.balancer.ports()
  }

  async metrics(): Promise<MetricsJson[]> {
    const own = await this.observer?.metrics()
    return own === undefined ? [] : [own]
  }

  reopenLogs(): void {
    this.observer?.reopenLogs()
  }

  async stop(drainTimeout: number): Promise<void> {
    await this.balancer.stop(drainTimeout)
    await this.observer?.close()
  }
}
