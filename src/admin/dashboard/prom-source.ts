/**
 * Series sources for the dashboard. `inFlightSource` (the default) knows only requests in flight;
 * `promHistogramSource` reads the upstream latency histogram from prom-client's JSON
 * (`registry.getMetricsAsJSON()`), which gives requests/s and p99 too.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import type { ControlPlane } from '../../control/control-plane.ts'
import type { Bucket, TargetSample, TargetSeriesSource } from './series.ts'

/** The histogram the metrics expose per target: `{target_group, target}` labels, seconds. */
export const UPSTREAM_HISTOGRAM = 'fulcrum_upstream_response_duration_seconds'

/** Requests in flight per target from the data plane; no request counts, so no req/s or p99. */
export function inFlightSource(cp: ControlPlane): TargetSeriesSource {
  return {
    counts: false,
    async sample() {
      const counts = await cp.dataPlane.inFlight()
      return cp.records().map((r) => ({ group: r.group, address: r.address, inFlight: counts[r.address] ?? 0 }))
    },
  }
}

/** One process's metrics, as prom-client's `registry.getMetricsAsJSON()` gives them. */
export type PromJson = ReadonlyArray<MetricObjectWithValues<MetricValue<string>>>

/**
 * Reads the histogram `metric` from prom-client's JSON: one process's (`getMetricsAsJSON()` of a Registry
 * or an AggregatorRegistry) or a list of them, one per worker, which are summed. One sample per
 * (target_group, target); series with further labels (a status class, a listener) are summed too. The
 * `_count` series gives the request count; the `_bucket` series (cumulative, `le` a number or "+Inf") the
 * buckets.
 */
export function promHistogramSource(getMetricsAsJSON: () => Promise<PromJson | readonly PromJson[]>, metric = UPSTREAM_HISTOGRAM): TargetSeriesSource {
  return { counts: true, sample: async () => samplesFromPromJson(await getMetricsAsJSON(), metric) }
}

export function samplesFromPromJson(json: PromJson | readonly PromJson[], metric = UPSTREAM_HISTOGRAM): TargetSample[] {
  const processes = (json.length > 0 && Array.isArray(json[0]) ? json : [json]) as readonly PromJson[]
  const values = processes.flatMap((p) => p.find((m) => m.name === metric)?.values ?? [])
  if (values.length === 0) return []
  const targets = new Map<string, { group: string; address: string; requests: number; buckets: Map<number, number> }>()
  for (const v of values as ReadonlyArray<MetricValue<string> & { metricName?: string }>) {
    const group = v.labels.target_group
    const address = v.labels.target
    if (group === undefined || address === undefined) continue
    const k = `${group}\n${address}`
    let t = targets.get(k)
    if (t === undefined) {
      t = { group: String(group), address: String(address), requests: 0, buckets: new Map() }
      targets.set(k, t)
    }
    if (v.metricName === `${metric}_count`) t.requests += v.value
    else if (v.metricName === `${metric}_bucket`) {
      const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le)
      if (!Number.isNaN(le)) t.buckets.set(le, (t.buckets.get(le) ?? 0) + v.value)
    }
  }
  return [...targets.values()].map((t) => ({
    group: t.group,
    address: t.address,
    requests: t.requests,
    buckets: [...t.buckets].map(([le, count]): Bucket => ({ le, count })).sort((a, b) => a.le - b.le),
  }))
}
