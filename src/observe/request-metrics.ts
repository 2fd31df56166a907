/**
 * The data plane's metrics. Requests are counted into plain preallocated structures, found through a few
 * Map lookups keyed by the strings the model already holds (listener name, group name, target address:
 * the same string objects every request, so their hashes are cached); nothing is allocated per request
 * once a series exists. prom-client sees the numbers only at scrape time, through `collect()` callbacks:
 * its `labels(...).inc()` builds a label key string on every call, which the hot path cannot afford.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { RetryCondition } from '../config/schema.ts'
import { Buckets, histogramCollector, type Labels } from './histogram.ts'
import type { RequestRecord } from './observer.ts'

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

/** Per listener: gauges, byte counters, and the request counts below it. */
class ListenerSeries {
  inFlight = 0
  connections = 0
  requestBytes = 0
  responseBytes = 0
  /** Index route + 1 (slot 0: no route matched) -> group ('' when none) -> target ('' when none) -> counts per status class. */
  readonly routes: Array<Map<string, Map<string, Float64Array>> | undefined> = []
  /** Total request time per target group ('' for answers the listener gives itself). */
  readonly duration = new Map<string, Buckets>()
}

function nested<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key)
  if (v === undefined) map.set(key, (v = make()))
  return v
}

export class RequestMetrics {
  readonly #listeners = new Map<string, ListenerSeries>()
  /** Group -> target -> time from sending to the end of the last attempt's response. */
  readonly #upstream = new Map<string, Map<string, Buckets>>()
  readonly #retries = new Map<string, Map<RetryCondition, number>>()
  readonly #passive = new Map<string, Map<string, number>>()

  #listener(name: string): ListenerSeries {
    let l = this.#listeners.get(name)
    if (l === undefined) this.#listeners.set(name, (l = new ListenerSeries()))
    return l
  }

  requestStarted(listener: string): void {
    this.#listener(listener).inFlight++
  }

  requestDone(record: RequestRecord, endedAt: number): void {
    const l = this.#listener(record.listener)
    l.inFlight--
    const status = record.clientAborted ? 499 : record.res.statusCode
    const cls = status < 200 ? 0 : status >= 500 ? 4 : ((status / 100) | 0) - 1
    const group = record.targetGroup ?? ''
    const target = record.upstream ?? ''
    const groups = (l.routes[record.route + 1] ??= new Map())
    const counts = nested(nested(groups, group, () => new Map<string, Float64Array>()), target, () => new Float64Array(5))
    counts[cls]++
    nested(l.duration, group, () => new Buckets()).observe((endedAt - record.startedAt) / 1000)
    if (record.upstreamMs >= 0 && record.upstream !== undefined) {
      nested(nested(this.#upstream, group, () => new Map<string, Buckets>()), record.upstream, () => new Buckets())
        .observe(record.upstreamMs / 1000)
    }
    // Request bytes as announced by Content-Length; a chunked body (no length) counts 0.
    const length = record.req.headers['content-length']
    if (length !== undefined) {
      const n = Number(length)
      if (n > 0) l.requestBytes += n
    }
    l.responseBytes += record.bytesSent
  }

  retried(group: string, condition: RetryCondition): void {
    const m = nested(this.#retries, group, () => new Map<RetryCondition, number>())
    m.set(condition, (m.get(condition) ?? 0) + 1)
  }

  passiveFailure(group: string, target: string): void {
    const m = nested(this.#passive, group, () => new Map<string, number>())
    m.set(target, (m.get(target) ?? 0) + 1)
  }

  connectionOpened(listener: string): void {
    this.#listener(listener).connections++
  }

  connectionClosed(listener: string): void {
    this.#listener(listener).connections--
  }

  /** Creates the prom-client metrics in `registry`; they read the counts above when scraped. */
  register(registry: Registry): void {
    const listeners = this.#listeners
    const registers = [registry]
    new Counter({
      name: 'fulcrum_http_requests_total', registers,
      help: 'HTTP requests completed, by listener, route (index in the listener, or none), target group and target (empty when the listener answered itself) and status class (499: the client left first).',
      labelNames: ['listener', 'route', 'target_group', 'target', 'status_class'],
      collect(this: Counter) {
        this.reset()
        for (const [listener, l] of listeners) {
          l.routes.forEach((groups, i) => {
            if (groups === undefined) return
            const route = i === 0 ? 'none' : String(i - 1)
            for (const [group, targets] of groups) {
              for (const [target, counts] of targets) {
                counts.forEach((n, c) => {
                  if (n > 0) this.inc({ listener, route, target_group: group, target, status_class: STATUS_CLASSES[c] }, n)
                })
              }
            }
          })
        }
      },
    })
    perListener(registry, listeners, Gauge, 'fulcrum_http_requests_in_flight', 'HTTP requests received and not yet completed.', (l) => l.inFlight)
    perListener(registry, listeners, Gauge, 'fulcrum_listener_connections', 'Open client connections.', (l) => l.connections)
    perListener(registry, listeners, Counter, 'fulcrum_http_request_body_bytes_total',
      'Request body bytes, as announced by Content-Length (chunked bodies count 0).', (l) => l.requestBytes)
    perListener(registry, listeners, Counter, 'fulcrum_http_response_body_bytes_total', 'Response body bytes sent to clients.', (l) => l.responseBytes)
    histogramCollector(registry, 'fulcrum_http_request_duration_seconds',
      'Total request time, from the request\'s arrival to the end of its response, by listener and target group.',
      () => flatten(listeners, (l) => l.duration, 'listener', 'target_group'))
    histogramCollector(registry, 'fulcrum_upstream_response_duration_seconds',
      'Time from sending a request to a target to the end of its response (last attempt), by target group and target.',
      () => flatten(this.#upstream, (m) => m, 'target_group', 'target'))
    const retries = this.#retries
    new Counter({
      name: 'fulcrum_upstream_retries_total', registers, labelNames: ['target_group', 'reason'],
      help: 'Requests sent to another target after a failure, by target group and the retries.on condition that caused it.',
      collect(this: Counter) {
        this.reset()
        for (const [group, m] of retries) for (const [reason, n] of m) this.inc({ target_group: group, reason }, n)
      },
    })
    const passive = this.#passive
    new Counter({
      name: 'fulcrum_passive_failures_total', registers, labelNames: ['target_group', 'target'],
      help: 'Failed attempts counted by passive health (maxFails / failTimeout), by target group and target.',
      collect(this: Counter) {
        this.reset()
        for (const [group, m] of passive) for (const [target, n] of m) this.inc({ target_group: group, target }, n)
      },
    })
  }
}

function perListener(registry: Registry, listeners: Map<string, ListenerSeries>, kind: typeof Gauge | typeof Counter,
  name: string, help: string, value: (l: ListenerSeries) => number): void {
  new kind({
    name, help, labelNames: ['listener'], registers: [registry],
    collect(this: Gauge | Counter) {
      this.reset()
      for (const [listener, l] of listeners) {
        if (this instanceof Gauge) this.set({ listener }, value(l))
        else this.inc({ listener }, value(l))
      }
    },
  })
}

function* flatten<T>(outer: Map<string, T>, inner: (t: T) => Map<string, Buckets>, a: string, b: string): Iterable<[Labels, Buckets]> {
  for (const [x, t] of outer) for (const [y, buckets] of inner(t)) yield [{ [a]: x, [b]: y }, buckets]
}
