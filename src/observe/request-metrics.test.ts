import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { Buckets, histogramValues } from './histogram.ts'
import { RequestMetrics } from './request-metrics.ts'
import { fakeRecord } from './testing.ts'

test('a histogram puts each observation in the first bucket at or above it; values come out cumulative', () => {
  const b = new Buckets([0.01, 0.1, 1])
  for (const s of [0.005, 0.01, 0.05, 0.5, 5]) b.observe(s)
  assert.equal(b.count, 5)
  assert.ok(Math.abs(b.sum - 5.565) < 1e-9)
  const values = histogramValues('x', { a: '1' }, b)
  assert.deepEqual(values.map((v) => [v.metricName, v.labels.le, v.value]), [
    ['x_bucket', 0.01, 2], ['x_bucket', 0.1, 3], ['x_bucket', 1, 4], ['x_bucket', '+Inf', 5],
    ['x_sum', undefined, b.sum], ['x_count', undefined, 5],
  ])
})

async function scrape(m: RequestMetrics): Promise<Map<string, number>> {
  const registry = new Registry()
  m.register(registry)
  const out = new Map<string, number>()
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values) {
      const labels = Object.entries(v.labels).map(([k, x]) => `${k}=${x}`).join(',')
      out.set(`${(v as { metricName?: string }).metricName ?? metric.name}{${labels}}`, v.value)
    }
  }
  return out
}

test('requests are counted per listener, route, group, target and status class, with both histograms', async () => {
  const m = new RequestMetrics()
  const t1 = { targetGroup: 'app', upstream: '10.0.0.1:80' }
  for (let i = 0; i < 3; i++) {
    m.requestStarted('web')
    m.requestDone(fakeRecord({ ...t1, startedAt: 0, upstreamMs: 2, bytesSent: 10, headers: { 'content-length': '5' } }), 3)
  }
  m.requestStarted('web')
  m.requestDone(fakeRecord({ ...t1, status: 502, upstreamMs: 40 }), 50)
  m.requestStarted('web')
  m.requestDone(fakeRecord({ ...t1, clientAborted: true }), 1)
  m.requestStarted('web')
  m.requestDone(fakeRecord({ route: -1, status: 404, bytesSent: 14 }), 0.5)
  m.requestStarted('web') // still in flight
  m.retried('app', 'http_502')
  m.retried('app', 'http_502')
  m.retried('app', 'error')
  m.passiveFailure('app', '10.0.0.1:80')
  m.connectionOpened('web')
  m.connectionOpened('web')
  m.connectionClosed('web')

  const s = await scrape(m)
  const req = (route: string, group: string, target: string, cls: string): number | undefined =>
    s.get(`fulcrum_http_requests_total{listener=web,route=${route},target_group=${group},target=${target},status_class=${cls}}`)
  assert.equal(req('0', 'app', '10.0.0.1:80', '2xx'), 3)
  assert.equal(req('0', 'app', '10.0.0.1:80', '5xx'), 1)
  assert.equal(req('0', 'app', '10.0.0.1:80', '4xx'), 1, '499 is a 4xx')
  assert.equal(req('none', '', '', '4xx'), 1)
  assert.equal(req('0', 'app', '10.0.0.1:80', '3xx'), undefined, 'no zero series')
  assert.equal(s.get('fulcrum_http_requests_in_flight{listener=web}'), 1)
  assert.equal(s.get('fulcrum_listener_connections{listener=web}'), 1)
  assert.equal(s.get('fulcrum_http_request_body_bytes_total{listener=web}'), 15)
  assert.equal(s.get('fulcrum_http_response_body_bytes_total{listener=web}'), 44)
  assert.equal(s.get('fulcrum_upstream_retries_total{target_group=app,reason=http_502}'), 2)
  assert.equal(s.get('fulcrum_upstream_retries_total{target_group=app,reason=error}'), 1)
  assert.equal(s.get('fulcrum_passive_failures_total{target_group=app,target=10.0.0.1:80}'), 1)

  const dur = (labels: string): number | undefined => s.get(`fulcrum_http_request_duration_seconds_bucket{listener=web,target_group=app,${labels}}`)
  assert.equal(dur('le=0.001'), 1, 'the 1 ms abort')
  assert.equal(dur('le=0.005'), 4, '+ three 3 ms answers')
  assert.equal(dur('le=0.05'), 5, '+ the 50 ms one')
  assert.equal(dur('le=+Inf'), 5)
  assert.equal(s.get('fulcrum_http_request_duration_seconds_count{listener=web,target_group=}'), 1)
  const up = (le: string): number | undefined => s.get(`fulcrum_upstream_response_duration_seconds_bucket{target_group=app,target=10.0.0.1:80,le=${le}}`)
  assert.equal(up('0.001'), 0)
  assert.equal(up('0.0025'), 3)
  assert.equal(up('0.05'), 4)
  assert.equal(s.get('fulcrum_upstream_response_duration_seconds_count{target_group=app,target=10.0.0.1:80}'), 4, 'the abort had no upstream time')

  // Scraping twice gives the same numbers: collect() replaces, never adds.
  assert.deepEqual(await scrape(m), s)
})
