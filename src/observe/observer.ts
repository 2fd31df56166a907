/**
 * The data plane's one hook for metrics and access logs. The proxy calls it when a request is over (its
 * response finished or its connection closed), and on retries, passive failures and connections. With no
 * observer configured nothing is called and nothing is allocated; an observer must not throw or block
 * (it queues, counts, and returns).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RetryCondition } from '../config/schema.ts'

/** One finished request, as the observer may read it. Only valid during `requestDone`. */
export interface RequestRecord {
  readonly listener: string
  /** Index of the matched route in the listener's routes; -1 when none matched (404). */
  readonly route: number
  /** Name of the target group that served it, if it was forwarded. */
  readonly targetGroup: string | undefined
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** The client's address (no port). */
  readonly clientIp: string
  /** The X-Request-Id sent upstream; '' when request ids are off or the request was not forwarded. */
  readonly requestId: string
  /** When the request arrived (ms, performance.now clock). */
  readonly startedAt: number
  /** host:port of the last target tried; undefined when none was. */
  readonly upstream: string | undefined
  /** Time from sending to the last attempt's response headers, ms; -1 when no target answered. */
  readonly upstreamHeaderMs: number
  /** Time from sending to the end of the last attempt, ms; -1 when no target was tried. */
  readonly upstreamMs: number
  /** Attempts after the first. */
  readonly retries: number
  /** Response body bytes written to the client. */
  readonly bytesSent: number
  /** The client closed the connection before the response was complete (logged as 499). */
  readonly clientAborted: boolean
  /** false when the route (or location) leaves its requests out of the access log. */
  readonly logged: boolean
}

/** How an L4 session ended (see fulcrum_l4_sessions_total). */
export type SessionOutcome = 'closed' | 'idle-timeout' | 'connect-failed' | 'no-target' | 'no-route' | 'denied' | 'limited' | 'bad-preamble' | 'error' | 'evicted'

/** One finished L4 session: a TCP or TLS-passthrough connection, or a UDP client's flow. */
export interface SessionRecord {
  readonly listener: string
  /** '' when none was chosen (denied, no route). */
  readonly targetGroup: string
  /** host:port, '' when none was reached. */
  readonly target: string
  readonly outcome: SessionOutcome
  readonly bytesFromClient: number
  readonly bytesToClient: number
  /** TCP for tcp and tls-passthrough listeners, UDP for udp ones. */
  readonly protocol: 'TCP' | 'UDP'
  /** The client (after the PROXY header, when the listener accepts one) and its port (0 when unknown). */
  readonly clientIp: string
  readonly clientPort: number
  /** The listener's bound port. */
  readonly serverPort: number
  /** tls-passthrough: the ClientHello's SNI name; '' otherwise. */
  readonly serverName: string
  /** When the session began and ended (ms, the data plane's clock). */
  readonly startedAt: number
  readonly endedAt: number
}

export interface RequestObserver {
  /** A request arrived on `listener` (before routing); every one is followed by exactly one `requestDone`. */
  requestStarted(listener: string): void
  requestDone(record: RequestRecord, endedAt: number): void
  retried(group: string, condition: RetryCondition): void
  passiveFailure(group: string, target: string, reason: string): void
  connectionOpened(listener: string): void
  connectionClosed(listener: string): void
  sessionDone(record: SessionRecord): void
}

/** A record for requests the listener answers itself (respond, redirect, 404). */
export class LocalRecord implements RequestRecord {
  readonly listener: string
  readonly route: number
  readonly targetGroup = undefined
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly clientIp: string
  readonly requestId = ''
  readonly startedAt: number
  readonly upstream = undefined
  readonly upstreamHeaderMs = -1
  readonly upstreamMs = -1
  readonly retries = 0
  readonly bytesSent: number
  readonly logged: boolean
  get clientAborted(): boolean {
    return !this.res.writableFinished
  }

  constructor(listener: string, route: number, req: IncomingMessage, res: ServerResponse, clientIp: string,
    startedAt: number, bytesSent: number, logged = true) {
    this.logged = logged
    this.listener = listener
    this.route = route
    this.req = req
    this.res = res
    this.clientIp = clientIp
    this.startedAt = startedAt
    this.bytesSent = bytesSent
  }
}
