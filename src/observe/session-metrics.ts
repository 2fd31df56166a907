/**
 * Metrics of the L4 listeners: sessions (a TCP or TLS-passthrough connection, or a UDP client's flow) by
 * how they ended, and bytes each way per target. Counted into plain maps and read by prom-client only at
 * scrape time, as request-metrics.ts does.
 */
import { Counter, type Registry } from 'prom-client'
import type { SessionOutcome, SessionRecord } from './observer.ts'

/** Per listener -> group -> target: sessions by outcome, and bytes. */
class TargetSeries {
  readonly outcomes = new Map<SessionOutcome, number>()
  /** From the client to the target. */
  bytesIn = 0
  /** From the target to the client. */
  bytesOut = 0
}

export class SessionMetrics {
  readonly #series = new Map<string, Map<string, Map<string, TargetSeries>>>()

  sessionDone(r: SessionRecord): void {
    let groups = this.#series.get(r.listener)
    if (groups === undefined) this.#series.set(r.listener, (groups = new Map()))
    let targets = groups.get(r.targetGroup)
    if (targets === undefined) groups.set(r.targetGroup, (targets = new Map()))
    let t = targets.get(r.target)
    if (t === undefined) targets.set(r.target, (t = new TargetSeries()))
    t.outcomes.set(r.outcome, (t.outcomes.get(r.outcome) ?? 0) + 1)
    t.bytesIn += r.bytesFromClient
    t.bytesOut += r.bytesToClient
  }

  register(registry: Registry): void {
    const series = this.#series
    const each = function* (): Iterable<[Record<string, string>, TargetSeries]> {
      for (const [listener, groups] of series) {
        for (const [group, targets] of groups) for (const [target, t] of targets) yield [{ listener, target_group: group, target }, t]
      }
    }
    new Counter({
      name: 'fulcrum_l4_sessions_total', registers: [registry],
      help: 'Finished TCP, TLS-passthrough and UDP sessions, by listener, target group, target (empty when none was reached) and outcome: '
        + 'closed (ended normally), idle-timeout, connect-failed (no target could be reached), no-target (none available), no-route (no SNI route), '
        + 'denied (allow/deny), bad-preamble (malformed or missing PROXY header or ClientHello), error (reset mid-session), evicted (UDP table full).',
      labelNames: ['listener', 'target_group', 'target', 'outcome'],
      collect(this: Counter) {
        this.reset()
        for (const [labels, t] of each()) for (const [outcome, n] of t.outcomes) this.inc({ ...labels, outcome }, n)
      },
    })
    new Counter({
      name: 'fulcrum_l4_bytes_total', registers: [registry],
      help: 'Bytes relayed by L4 listeners, by listener, target group, target and direction (in: client to target; out: target to client), counted when a session ends.',
      labelNames: ['listener', 'target_group', 'target', 'direction'],
      collect(this: Counter) {
        this.reset()
        for (const [labels, t] of each()) {
          this.inc({ ...labels, direction: 'in' }, t.bytesIn)
          this.inc({ ...labels, direction: 'out' }, t.bytesOut)
        }
      },
    })
  }
}
