/**
 * The observer one data-plane process gives its Balancer (in the CLI's own process for `workers: 1`, in
 * each worker otherwise): metrics counted here and handed to the primary as prom-client JSON, and this
 * process's access logs (each worker writes its own lines; see log-writer.ts for how they share a file).
 */
import { Registry } from 'prom-client'
import type { Logger } from 'pino'
import type { Config, RetryCondition } from '../config/schema.ts'
import { AccessLogs } from './access-log.ts'
import type { RequestObserver, RequestRecord, SessionRecord } from './observer.ts'
import { SessionMetrics } from './session-metrics.ts'
import { RequestMetrics } from './request-metrics.ts'

/** What `fulcrum start` asks of a data plane's observer. */
export interface ObserveOptions {
  /** Count requests for GET /metrics (on when the admin API is). */
  readonly metrics: boolean
  /** The config file's folder: relative access log paths start there. */
  readonly configDir: string
}

/** One process's metrics, as `registry.getMetricsAsJSON()` gives them. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

export class DataPlaneObserver implements RequestObserver {
  readonly #metrics: RequestMetrics | undefined
  readonly #sessions: SessionMetrics | undefined
  readonly #registry: Registry | undefined
  readonly #logs: AccessLogs

  constructor(log: Logger, options: ObserveOptions) {
    if (options.metrics) {
      this.#metrics = new RequestMetrics()
      this.#registry = new Registry()
      this.#metrics.register(this.#registry)
      this.#sessions = new SessionMetrics()
      this.#sessions.register(this.#registry)
    }
    this.#logs = new AccessLogs(log, options.configDir)
  }

  /** Opens, keeps or closes access logs for a generation's listeners (before it serves). */
  configure(config: Config): void {
    this.#logs.configure(config.listeners)
  }

  reopenLogs(): void {
    this.#logs.reopen()
  }

  /** This process's metrics; undefined when metrics are off. */
  async metrics(): Promise<MetricsJson | undefined> {
    return this.#registry?.getMetricsAsJSON()
  }

  /** Writes what the access logs still hold. */
  close(): Promise<void> {
    return this.#logs.close()
  }

  requestStarted(listener: string): void {
    this.#metrics?.requestStarted(listener)
  }

  requestDone(record: RequestRecord, endedAt: number): void {
    this.#metrics?.requestDone(record, endedAt)
    if (this.#logs.size > 0) this.#logs.requestDone(record, endedAt)
  }

  retried(group: string, condition: RetryCondition): void {
    this.#metrics?.retried(group, condition)
  }

  passiveFailure(group: string, target: string): void {
    this.#metrics?.passiveFailure(group, target)
  }

  connectionOpened(listener: string): void {
    this.#metrics?.connectionOpened(listener)
  }

  connectionClosed(listener: string): void {
    this.#metrics?.connectionClosed(listener)
  }

  sessionDone(record: SessionRecord): void {
    this.#sessions?.sessionDone(record)
    if (this.#logs.size > 0) this.#logs.sessionDone(record)
  }
}
