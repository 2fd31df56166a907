/**
 * The primary's own metrics (health checks, target states, reloads, the loaded config) and GET /metrics:
 * the data plane's metrics from every process it runs in, plus these, merged by prom-client's
 * `AggregatorRegistry.aggregate` (counters and histograms summed across workers, gauges summed too:
 * each worker's in-flight and connection counts are its share of the listener's).
 */
import { createHash } from 'node:crypto'
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Config } from '../config/schema.ts'
import type { ControlPlane, ControlPlaneObserver } from '../control/control-plane.ts'
import type { CheckResult } from '../health/checker.ts'
import { HEALTH_STATES } from '../targets/target-health.ts'
import { DURATION_BUCKETS } from './histogram.ts'

/** The first 12 hex digits of the SHA-256 of the configuration's JSON: which configuration is loaded. */
export function configHash(config: Config): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 12)
}

export class ControlMetrics implements ControlPlaneObserver {
  readonly registry = new Registry()
  readonly #checks: Counter<'target_group' | 'target' | 'result'>
  readonly #checkDuration: Histogram<'target_group' | 'target'>
  readonly #reloads: Counter<'result'>
  readonly #configInfo: Gauge<'hash'>
  #cp: ControlPlane | undefined

  constructor() {
    const registers = [this.registry]
    // Health checks run a few times a second at most, so prom-client's own label handling is fine here.
    this.#checks = new Counter({
      name: 'fulcrum_health_checks_total', registers, labelNames: ['target_group', 'target', 'result'],
      help: 'Active health checks, by target group, target and result (pass or fail).',
    })
    this.#checkDuration = new Histogram({
      name: 'fulcrum_health_check_duration_seconds', registers, labelNames: ['target_group', 'target'], buckets: [...DURATION_BUCKETS],
      help: 'Time from the start of an active health check to its verdict.',
    })
    this.#reloads = new Counter({
      name: 'fulcrum_config_reloads_total', registers, labelNames: ['result'],
      help: 'Configuration reloads (SIGHUP or POST /api/v1/reload), by result (success or failure).',
    })
    for (const result of ['success', 'failure']) this.#reloads.inc({ result }, 0)
    this.#configInfo = new Gauge({
      name: 'fulcrum_config_info', registers, labelNames: ['hash'],
      help: 'Always 1; hash is the first 12 hex digits of the SHA-256 of the effective configuration (file plus API registrations) as JSON.',
    })
    const cp = (): ControlPlane | undefined => this.#cp
    new Gauge({
      name: 'fulcrum_target_state', registers, labelNames: ['target_group', 'target', 'state'],
      help: `1 for each target's current state, 0 for the others (${HEALTH_STATES.join(', ')}), as the control plane decides it (health checks, draining); passive health is per worker and shows in fulcrum_passive_failures_total.`,
      collect(this: Gauge) {
        this.reset()
        for (const r of cp()?.records() ?? []) {
          for (const state of HEALTH_STATES) this.set({ target_group: r.group, target: r.address, state }, r.state === state ? 1 : 0)
        }
      },
    })
  }

  checked(group: string, address: string, result: CheckResult): void {
    this.#checks.inc({ target_group: group, target: address, result: result.ok ? 'pass' : 'fail' })
    this.#checkDuration.observe({ target_group: group, target: address }, result.latencyMs / 1000)
  }

  reloaded(ok: boolean): void {
    this.#reloads.inc({ result: ok ? 'success' : 'failure' })
  }

  applied(effective: Config): void {
    this.#configInfo.reset()
    this.#configInfo.set({ hash: configHash(effective) }, 1)
  }

  async metrics(cp: ControlPlane): Promise<{ contentType: string; text: string }> {
    this.#cp = cp
    const parts = await cp.dataPlane.metrics()
    parts.push(await this.registry.getMetricsAsJSON())
    const merged = AggregatorRegistry.aggregate(parts)
    return { contentType: merged.contentType, text: await merged.metrics() }
  }
}
