import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Histogram, Registry } from 'prom-client'
import { promHistogramSource, samplesFromPromJson, UPSTREAM_HISTOGRAM, type PromJson } from './prom-source.ts'

/** prom-client's documented getMetricsAsJSON() shape for a histogram (cumulative buckets, le "+Inf"). */
const SAMPLE = [
  { name: 'fulcrum_requests_total', help: 'x', type: 'counter', aggregator: 'sum', values: [{ value: 7, labels: { listener: 'web' } }] },
  {
    name: UPSTREAM_HISTOGRAM, help: 'Upstream response time', type: 'histogram', aggregator: 'sum',
    values: [
      { value: 3, labels: { le: 0.01, target_group: 'app', target: '10.0.0.1:80' }, metricName: `${UPSTREAM_HISTOGRAM}_bucket` },
      { value: 5, labels: { le: 0.1, target_group: 'app', target: '10.0.0.1:80' }, metricName: `${UPSTREAM_HISTOGRAM}_bucket` },
      { value: 6, labels: { le: '+Inf', target_group: 'app', target: '10.0.0.1:80' }, metricName: `${UPSTREAM_HISTOGRAM}_bucket` },
      { value: 0.42, labels: { target_group: 'app', target: '10.0.0.1:80' }, metricName: `${UPSTREAM_HISTOGRAM}_sum` },
      { value: 6, labels: { target_group: 'app', target: '10.0.0.1:80' }, metricName: `${UPSTREAM_HISTOGRAM}_count` },
      { value: 1, labels: { le: 0.01, target_group: 'api', target: '10.0.0.2:80' }, metricName: `${UPSTREAM_HISTOGRAM}_bucket` },
      { value: 1, labels: { le: 0.1, target_group: 'api', target: '10.0.0.2:80' }, metricName: `${UPSTREAM_HISTOGRAM}_bucket` },
      { value: 1, labels: { le: '+Inf', target_group: 'api', target: '10.0.0.2:80' }, metricName: `${UPSTREAM_HISTOGRAM}_bucket` },
      { value: 1, labels: { target_group: 'api', target: '10.0.0.2:80' }, metricName: `${UPSTREAM_HISTOGRAM}_count` },
    ],
  },
] as unknown as PromJson

test('prom-client JSON: one sample per target with its count and cumulative buckets', () => {
  assert.deepEqual(samplesFromPromJson(SAMPLE), [
    { group: 'app', address: '10.0.0.1:80', requests: 6, buckets: [{ le: 0.01, count: 3 }, { le: 0.1, count: 5 }, { le: Infinity, count: 6 }] },
    { group: 'api', address: '10.0.0.2:80', requests: 1, buckets: [{ le: 0.01, count: 1 }, { le: 0.1, count: 1 }, { le: Infinity, count: 1 }] },
  ])
  assert.deepEqual(samplesFromPromJson(SAMPLE, 'fulcrum_missing'), [], 'no such metric yet: no samples')
})

test('a real prom-client registry: further labels are summed per target', async () => {
  const registry = new Registry()
  const h = new Histogram({
    name: UPSTREAM_HISTOGRAM, help: 'Upstream response time', labelNames: ['target_group', 'target', 'code_class'],
    buckets: [0.005, 0.05, 0.5], registers: [registry],
  })
  h.observe({ target_group: 'app', target: 'a:1', code_class: '2xx' }, 0.001)
  h.observe({ target_group: 'app', target: 'a:1', code_class: '2xx' }, 0.01)
  h.observe({ target_group: 'app', target: 'a:1', code_class: '5xx' }, 2)
  const samples = await promHistogramSource(() => registry.getMetricsAsJSON()).sample()
  assert.deepEqual(samples, [{
    group: 'app', address: 'a:1', requests: 3,
    buckets: [{ le: 0.005, count: 1 }, { le: 0.05, count: 2 }, { le: 0.5, count: 2 }, { le: Infinity, count: 3 }],
  }])
})

test('one JSON per worker: counts and buckets are summed', () => {
  const [app] = samplesFromPromJson([SAMPLE, SAMPLE])
  assert.deepEqual(app, { group: 'app', address: '10.0.0.1:80', requests: 12, buckets: [{ le: 0.01, count: 6 }, { le: 0.1, count: 10 }, { le: Infinity, count: 12 }] })
  assert.deepEqual(samplesFromPromJson([]), [], 'no worker answered: no samples')
})
