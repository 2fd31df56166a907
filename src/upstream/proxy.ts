/**
 * One client request forwarded to a target group: pick a target, send the request through the target's
 * pool with undici's `dispatch` (no stream objects per request), stream the answer back, and on failure
 * move to the next target as nginx's `proxy_next_upstream` does. The exchange object is itself the undici
 * handler, the algorithms' `RequestFacts` and the attempt's bookkeeping, so a request costs one object here.
 */
import type { IncomingMessage, IncomingHttpHeaders } from 'node:http'
import type { Transform } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { RequestFacts } from '../balancing/algorithm.ts'
import type { ConnectionCap } from '../protection/connection-counter.ts'
import { abandonAttempt, beginAttempt, recordFailure, recordSuccess } from '../health/passive.ts'
import { observeLatency } from '../targets/latency.ts'
import { TriedSet, type GroupTarget, type TargetGroup } from '../targets/target-group.ts'
import { classifyUpstreamError, statusFailure, type AttemptFailure } from './errors.ts'
import type { PoolRegistry } from './pool.ts'
import { AttemptTimers, isPrecise } from './attempt-timers.ts'
import { BodyLimit } from './body-limit.ts'
import { IDEMPOTENT, isStaleConnection, STALE_CONNECTION_RETRIES, RETRY_BODY_LIMIT, RETRY_STATUS, settingsOf } from './retry-rules.ts'
import { clientResponseHeaders, type ForwardingOptions, type HeaderFacts } from './request-headers.ts'
import { upstreamHead } from './upstream-head.ts'
import { closeAfter, sendError, type ProxyResponse } from './response.ts'
import type { RequestObserver, RequestRecord } from '../observe/observer.ts'
import type { RequestScope } from '../model/route-extras.ts'
import type { TemplateSource } from './templates.ts'

/** What the exchange needs from the listener and the process; one object per listener generation. */
export interface ProxyContext {
  readonly pools: PoolRegistry
  readonly now: () => number
  /** Metrics and access logs; undefined costs nothing. */
  readonly observer: RequestObserver | undefined
  /** Passive health transitions, for logs (and later metrics). */
  onTargetDown(group: TargetGroup, target: GroupTarget, reason: string): void
  onTargetUp(group: TargetGroup, target: GroupTarget): void
  /** The process-wide connection cap (maxConnections) listeners admit new connections through. */
  readonly connectionCap?: ConnectionCap
}

export class ProxyExchange implements Dispatcher.DispatchHandler, RequestFacts, HeaderFacts, RequestRecord, TemplateSource {
  readonly req: IncomingMessage
  readonly res: ProxyResponse
  readonly group: TargetGroup
  readonly ctx: ProxyContext
  readonly clientIp: string
  readonly listener: string
  readonly route: number
  // RequestRecord fields, for metrics and access logs.
  upstreamHeaderMs = -1
  upstreamMs = -1
  bytesSent = 0
  /** Set by the header builder: the client's X-Request-Id, or a new one ('' when request ids are off). */
  requestId = ''
  readonly #headers: string[]
  /** The request target for the target: the client's, or rewritten by proxy.replacePrefix. */
  readonly #path: string
  readonly #forwarding: ForwardingOptions
  /** Extras of the route (nginx headers, addHeaders, error pages, body limit); undefined on plain routes. */
  readonly #scope: RequestScope | undefined
  readonly #requestId: string | undefined
  readonly #hasBody: boolean
  /** The request body when it was small enough to keep for retries. */
  #body: Buffer | null = null
  readonly #startedAt: number
  #attempts = 0
  /** Attempts sent again to the same target after finding their pooled connection closed. */
  #staleRetries = 0
  /** Short response timeouts, timed here rather than on undici's coarse timers. */
  #timers: AttemptTimers | undefined
  /** A timeout that fired before the attempt's controller existed. */
  #pendingAbort: Error | undefined
  #tried: TriedSet | undefined
  /** The target the request's stickiness cookie names (null: a stale or forged id), else undefined. */
  #sticky: GroupTarget | null | undefined
  #target: GroupTarget | undefined
  #attemptStart = 0
  #controller: Dispatcher.DispatchController | undefined
  #abandoned: Dispatcher.DispatchController | undefined
  #lastFailure: AttemptFailure | undefined
  /** True from dispatch until the attempt's outcome is booked (in-flight count, passive health). */
  #attemptOpen = false
  #done = false
  /** The request body through its size check, when the route limits a body of unknown length. */
  #bodyStream: Transform | undefined

  constructor(req: IncomingMessage, res: ProxyResponse, group: TargetGroup, ctx: ProxyContext, clientIp: string,
    forwarding: ForwardingOptions, listener: string, route: number, scope?: RequestScope) {
    this.req = req
    this.listener = listener
    this.route = route
    this.res = res
    this.group = group
    this.ctx = ctx
    this.clientIp = clientIp
    this.#forwarding = forwarding
    this.#scope = scope
    if (scope !== undefined) scope.proxyHost = scope.extras.proxy?.host ?? group.name
    const head = upstreamHead(req, clientIp, forwarding, scope, this)
    this.#headers = head.headers
    this.#requestId = head.requestId
    this.#path = head.path
    const h = req.headers
    this.#hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0')
    this.#startedAt = ctx.now()
    res.exchange = this
  }

  // RequestFacts, read by algorithms that hash on the request.
  get method(): string { return this.req.method as string }
  get url(): string { return this.req.url as string }
  get headers(): IncomingHttpHeaders { return this.req.headers }

  // TemplateSource, for hash keys that are templates ($request_uri, $remote_addr$http_x_user, …).
  get remotePort(): number | undefined { return this.req.socket.remotePort }
  get serverPort(): string { return this.#forwarding.port }
  get serverName(): string { return this.#scope?.serverName ?? '' }
  get proxyHost(): string { return this.#scope?.extras.proxy?.host ?? this.group.name }
  get uri(): string | undefined { return this.#scope?.uri }
  get scheme(): string { return this.#forwarding.proto }
  get httpVersion(): string { return this.req.httpVersion }

  // RequestRecord, read by the observer when the request is over.
  get startedAt(): number { return this.#startedAt }
  get targetGroup(): string { return this.group.name }
  get upstream(): string | undefined { return this.#target?.address }
  get retries(): number { return this.#attempts > 0 ? this.#attempts - 1 : 0 }
  get clientAborted(): boolean { return !this.res.writableFinished }
  get logged(): boolean { return this.#scope?.extras.logged !== false }

  start(): void {
    this.group.budget.recordRequest(this.#startedAt)
    this.res.once('close', onClientClose)
    const sticky = this.group.stickiness
    if (sticky !== undefined) this.#sticky = sticky.requested(this.req.headers)
    const length = this.#hasBody ? Number(this.req.headers['content-length']) : NaN
    if (length > 0 && length <= RETRY_BODY_LIMIT) this.#readBody()
    else {
      // A Content-Length over the limit was refused before; a body of unknown length is counted as it streams.
      const max = this.#scope?.extras.maxBodyBytes ?? 0
      if (max > 0 && this.#hasBody && Number.isNaN(length)) this.#bodyStream = new BodyLimit(this, this.req, max)
      this.#attempt(this.group.pick(this, undefined, this.ctx.now(), this.#sticky ?? undefined))
    }
  }

  #readBody(): void {
    const chunks: Buffer[] = []
    this.req.on('data', (chunk: Buffer) => chunks.push(chunk))
    this.req.once('end', () => {
      if (this.#done) return
      this.#body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
      this.#attempt(this.group.pick(this, undefined, this.ctx.now(), this.#sticky ?? undefined))
    })
  }

  #attempt(target: GroupTarget | undefined): void {
    if (target === undefined) {
      this.#finishWithError(this.#lastFailure?.status ?? 503)
      return
    }
    const now = this.ctx.now()
    this.#target = target
    this.#attempts++
    this.#attemptStart = now
    target.state.inFlight++
    this.#attemptOpen = true
    beginAttempt(target.state, now)
    const timeouts = this.group.config.timeouts
    const preciseHeader = isPrecise(timeouts.responseHeader)
    if (preciseHeader || isPrecise(timeouts.idle)) this.#startHeaderTimer(preciseHeader ? timeouts.responseHeader : 0)
    const pool = this.ctx.pools.forTarget(target, settingsOf(this.group))
    try {
      pool.dispatch({
        path: this.#path,
        method: this.req.method as string,
        headers: this.#headers,
        body: this.#body ?? (this.#hasBody ? this.#bodyStream ?? this.req : null),
        headersTimeout: preciseHeader ? 0 : timeouts.responseHeader,
        bodyTimeout: isPrecise(timeouts.idle) ? 0 : timeouts.idle,
        // The client decides about its own connection; each upstream request may reuse a pooled one.
        reset: false,
      }, this)
    } catch (err) {
      this.onResponseError(undefined, err as Error)
    }
  }

  /** Arms this attempt's precise timers (`ms` 0: only the body's, armed with the response). */
  #startHeaderTimer(ms: number): void {
    this.#timers ??= new AttemptTimers((err) => {
      const controller = this.#controller
      if (controller !== undefined) controller.abort(err)
      else this.#pendingAbort = err
    })
    this.#timers.armHeader(ms, this.#body === null && this.#hasBody ? this.req : undefined, () => this.#attemptOpen && !this.#done)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#done) controller.abort(new Error('client closed the connection'))
    else if (this.#pendingAbort !== undefined) {
      controller.abort(this.#pendingAbort)
      this.#pendingAbort = undefined
    }
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    if (controller !== this.#controller || statusCode < 200) return
    if (this.#timers !== undefined) {
      const idle = this.group.config.timeouts.idle
      if (isPrecise(idle)) this.#timers.startBody(idle)
      else this.#timers.clear()
    }
    const target = this.#target as GroupTarget
    const now = this.ctx.now()
    this.upstreamHeaderMs = now - this.#attemptStart
    observeLatency(target.state, this.upstreamHeaderMs, now)
    const condition = RETRY_STATUS[statusCode]
    if (condition !== undefined && this.group.retriesOn(condition)) {
      const failure = statusFailure(condition, statusCode)
      ;(this.#tried ??= new TriedSet()).add(target)
      const next = this.#retryTarget(failure)
      if (next !== undefined) {
        // Drop this answer and its connection; the next target gets the request.
        this.#abandoned = controller
        this.#controller = undefined
        controller.abort(new Error(`retrying after status ${statusCode}`))
        this.#endAttempt(failure)
        this.#attempt(next)
        return
      }
      // No other target may take it: this answer is the client's (as nginx passes the last one on).
      this.#countFailure(failure)
    }
    let headers: string[]
    try {
      headers = clientResponseHeaders(controller.rawHeaders as Buffer[], this.#requestId === undefined ? undefined : 'x-request-id', this.#requestId)
      this.group.stickiness?.addCookie(headers, target, this.#sticky)
      this.#scope?.decorate(statusCode, headers)
      this.res.writeHead(statusCode, headers)
    } catch (err) {
      controller.abort(err as Error)
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (controller !== this.#controller) return
    this.#timers?.touchBody()
    this.bytesSent += chunk.length
    if (!this.res.write(chunk)) {
      controller.pause()
      this.res.once('drain', onClientDrain)
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    if (controller !== this.#controller) return
    this.#timers?.clear()
    this.#done = true
    this.#attemptOpen = false
    this.upstreamMs = this.ctx.now() - this.#attemptStart
    this.res.end()
    const state = (this.#target as GroupTarget).state
    state.inFlight--
    state.requests++
    if (recordSuccess(state)) this.ctx.onTargetUp(this.group, this.#target as GroupTarget)
  }

  onResponseError(controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (controller !== undefined && controller === this.#abandoned) return
    this.#timers?.clear()
    if (this.#done) {
      // The client left first; the abort we sent comes back here. Not the target's fault.
      if (this.#attemptOpen) {
        const state = (this.#target as GroupTarget).state
        state.inFlight--
        abandonAttempt(state)
        this.#attemptOpen = false
      }
      this.#controller = undefined
      return
    }
    this.#controller = undefined
    if (this.#sendAgainOnStaleConnection(err)) return
    const failure = classifyUpstreamError(err)
    this.#endAttempt(failure)
    if (this.res.headersSent) {
      // Part of the answer is on its way: the client must see it cut, never a mixed-up response.
      this.#done = true
      this.res.destroy(err)
      return
    }
    const next = this.#retryTarget(failure)
    if (next !== undefined) this.#attempt(next)
    else this.#finishWithError(failure.status)
  }

  /**
   * A pooled connection the target had closed: nothing of the answer came, so a request that may be sent
   * twice (idempotent, with no body or one held whole) goes to the same target again, on another
   * connection, and the target is not blamed. Only for a group of one target: with more, the usual retry
   * moves the request to another target, as nginx does (it retries a cached connection on the next peer).
   */
  #sendAgainOnStaleConnection(err: Error): boolean {
    if (this.res.headersSent || !isStaleConnection(err) || this.#staleRetries >= STALE_CONNECTION_RETRIES) return false
    if (this.group.targets.length !== 1) return false
    if (IDEMPOTENT[this.req.method as string] !== true || (this.#hasBody && this.#body === null)) return false
    this.#staleRetries++
    const target = this.#target as GroupTarget
    this.#attemptOpen = false
    target.state.inFlight--
    abandonAttempt(target.state)
    this.#attempts--
    this.#attempt(target)
    return true
  }

  /** The client's connection closed: stop the attempt without holding it against the target. */
  clientClosed(): void {
    if (this.#done) return
    this.#timers?.clear()
    this.#done = true
    const controller = this.#controller
    if (controller !== undefined) controller.abort(new Error('client closed the connection'))
  }

  /**
   * The streamed body passed maxBodyBytes: stop the attempt (not the target's fault), answer 413 if nothing
   * was sent yet, else cut the response; either way the client connection closes.
   */
  bodyTooLarge(): void {
    if (this.#done) return
    this.#done = true
    closeAfter(this.res)
    this.#controller?.abort(new Error('request body too large'))
    if (this.res.headersSent) this.res.destroy()
    else this.bytesSent = sendError(this.res, 413, this.#requestId, this.#scope)
  }

  resumeUpstream(): void {
    this.#controller?.resume()
  }

  #endAttempt(failure: AttemptFailure): void {
    const target = this.#target as GroupTarget
    this.#attemptOpen = false
    this.upstreamMs = this.ctx.now() - this.#attemptStart
    target.state.inFlight--
    target.state.requests++
    ;(this.#tried ??= new TriedSet()).add(target)
    this.#lastFailure = failure
    this.#countFailure(failure)
  }

  #countFailure(failure: AttemptFailure): void {
    const target = this.#target as GroupTarget
    if (!this.group.passiveApplies) return
    this.ctx.observer?.passiveFailure(this.group.name, target.address, failure.reason)
    if (recordFailure(target.state, this.group.passive, this.ctx.now())) {
      this.ctx.onTargetDown(this.group, target, failure.reason)
    }
  }

  /**
   * The target for a retry after `failure`, or undefined when the request may not be retried (condition
   * not listed, tries or retry timeout used up, unsafe method, body already streamed), no untried target
   * can take it, or the retry budget is spent.
   */
  #retryTarget(failure: AttemptFailure): GroupTarget | undefined {
    const retries = this.group.config.retries
    if (this.#done || this.#attempts >= retries.tries || !this.group.retriesOn(failure.condition)) return undefined
    const now = this.ctx.now()
    if (retries.timeout !== 0 && now - this.#startedAt >= retries.timeout) return undefined
    // A streamed body can be sent once: after its first byte left, it is gone.
    if (this.#body === null && this.#hasBody && this.req.readableDidRead) return undefined
    const safe = !failure.reachedTarget || IDEMPOTENT[this.req.method as string] === true
      || retries.nonIdempotent || this.req.headers['idempotency-key'] !== undefined
    if (!safe) return undefined
    const target = this.group.pick(this, this.#tried, now)
    if (target === undefined || !this.group.budget.tryRetry(now)) return undefined
    this.ctx.observer?.retried(this.group.name, failure.condition)
    return target
  }

  #finishWithError(status: number): void {
    this.#done = true
    this.bytesSent = sendError(this.res, status, this.#requestId, this.#scope)
  }
}

function onClientClose(this: ProxyResponse): void {
  const exchange = this.exchange
  if (exchange === undefined) return
  if (!this.writableFinished) exchange.clientClosed()
  exchange.ctx.observer?.requestDone(exchange, exchange.ctx.now())
}

function onClientDrain(this: ProxyResponse): void {
  this.exchange?.resumeUpstream()
}
