/**
 * A histogram the data plane fills per request without prom-client: fixed bucket bounds and one
 * Float64Array per series, so an observation is a short scan and two additions, with no label keys built.
 * At scrape time `histogramCollector` turns every series into prom-client's JSON shape (cumulative
 * `_bucket{le}`, `_sum`, `_count`), which is what `AggregatorRegistry.aggregate` sums across workers.
 */
import type { Registry } from 'prom-client'

/**
 * Seconds. prom-client's default buckets start at 5 ms; a proxy on a LAN answers in well under that, so
 * 1 ms and 2.5 ms come first, and 30 s / 60 s catch slow uploads and long polls.
 */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** One series: counts per bucket (not cumulative; the last slot is +Inf), then sum, then count. */
export class Buckets {
  readonly bounds: readonly number[]
  readonly values: Float64Array

  constructor(bounds: readonly number[] = DURATION_BUCKETS) {
    this.bounds = bounds
    this.values = new Float64Array(bounds.length + 3)
  }

  observe(seconds: number): void {
    const bounds = this.bounds
    const n = bounds.length
    let i = 0
    // Most observations are short, so a linear scan from the small end stops early.
    while (i < n && seconds > bounds[i]) i++
    const v = this.values
    v[i]++
    v[n + 1] += seconds
    v[n + 2]++
  }

  get count(): number {
    return this.values[this.bounds.length + 2]
  }

  get sum(): number {
    return this.values[this.bounds.length + 1]
  }
}

export type Labels = Record<string, string>

/** A value as prom-client's `getMetricsAsJSON()` gives it. */
export interface MetricValue {
  readonly labels: Record<string, string | number>
  readonly value: number
  readonly metricName?: string
}

/** prom-client's JSON values for one histogram series. */
export function histogramValues(name: string, labels: Labels, b: Buckets): MetricValue[] {
  const out: MetricValue[] = []
  const n = b.bounds.length
  let cumulative = 0
  for (let i = 0; i < n; i++) {
    cumulative += b.values[i]
    out.push({ labels: { ...labels, le: b.bounds[i] }, value: cumulative, metricName: `${name}_bucket` })
  }
  out.push({ labels: { ...labels, le: '+Inf' }, value: b.count, metricName: `${name}_bucket` })
  out.push({ labels, value: b.sum, metricName: `${name}_sum` })
  out.push({ labels, value: b.count, metricName: `${name}_count` })
  return out
}

/**
 * Registers a histogram whose series come from `series()` at scrape time. prom-client's own Histogram has
 * no way to set bucket counts, so this is a collector with the `get()` shape the registry renders and
 * aggregates (the same shape prom-client's metrics return).
 */
export function histogramCollector(registry: Registry, name: string, help: string,
  series: () => Iterable<readonly [Labels, Buckets]>): void {
  const metric = {
    name, help, type: 'histogram', aggregator: 'sum',
    get: async () => {
      const values: MetricValue[] = []
      for (const [labels, b] of series()) values.push(...histogramValues(name, labels, b))
      return { name, help, type: 'histogram', aggregator: 'sum', values }
    },
    // Registry.resetMetrics() calls this; the numbers belong to the data plane, so there is nothing to reset.
    reset: () => {},
  }
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])
}
