/**
 * What the control plane needs from the data plane, whether it runs in this process (workers: 1) or in
 * worker processes: apply a configuration generation, set target states, and report live numbers.
 */
import type { Logger } from 'pino'
import { Balancer, type ReloadSummary } from '../balancer.ts'
import type { Config } from '../config/schema.ts'
import type { HealthStateName } from '../targets/target-health.ts'

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
  stop(drainTimeout: number): Promise<void>
}

/** The data plane in this process: one Balancer. */
export class InProcessDataPlane implements DataPlane {
  readonly balancer: Balancer

  constructor(log: Logger) {
    this.balancer = new Balancer({ log })
  }

  async start(config: Config, health: readonly HealthUpdate[]): Promise<void> {
    this.setHealth(health)
    await this.balancer.start(config)
  }

  apply(config: Config, health: readonly HealthUpdate[]): Promise<ReloadSummary> {
    this.setHealth(health)
    return this.balancer.reload(config)
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

  stop(drainTimeout: number): Promise<void> {
    return this.balancer.stop(drainTimeout)
  }
}
