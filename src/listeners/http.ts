/**
 * An HTTP/1.1 listener, or with certificates an HTTPS one (HTTP/2 too when asked; see tls.ts): accepts
 * connections, finds the route, and hands the request to its action. No balancing here. The route table
 * is swapped by `update()` on reload; requests already running keep the generation they started with, and
 * the socket stays open, so a reload loses nothing.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2'
import type { Server as NetServer, Socket } from 'node:net'
import type { CertificateTable } from '../model/tls.ts'
import { adaptH2, applyClientLimits, createTlsServer, isHttp2, type TlsServer } from './tls.ts'
import type { AnyListenerModel, ListenerModel, RouteAction } from '../model/build.ts'
import { boundPort, listenTcp, wrongKind, type Listener } from './listener.ts'
import { RequestScope, type RouteExtras } from '../model/route-extras.ts'
import type { VirtualHostModel } from '../model/virtual-hosts.ts'
import { validHost, type ServerTable } from '../router/nginx.ts'
import { escapeUri, normalizeUri, targetArgs } from '../router/uri.ts'
import { ProxyExchange, type ProxyContext } from '../upstream/proxy.ts'
import { ProxyResponse, nginxPage, onClosingConnection, sendError, sendNginxPage } from '../upstream/response.ts'
import { evaluate, hostVariable } from '../upstream/templates.ts'
import type { ForwardingOptions } from '../upstream/request-headers.ts'
import { socketClient } from './client-address.ts'
import { gateConnections } from './proxy-gate.ts'
import { clientOf, RequestGuard, type Admitted } from './request-guard.ts'
import { checkRateLimits } from '../protection/rate-limits.ts'
import { tunnelUpgrade } from './upgrade.ts'
import { LocalRecord } from '../observe/observer.ts'

export class HttpListener implements Listener {
  readonly server: Server<typeof IncomingMessage, typeof ProxyResponse> | TlsServer
  readonly #ctx: ProxyContext
  readonly #tunnels = new Set<Socket>()
  /** HTTP/2 sessions, to close them gracefully on stop (an HTTP/2 server has no closeIdleConnections). */
  readonly #sessions = new Set<Http2Session>()
  readonly #sockets = new Set<Socket>()
  readonly #guard = new RequestGuard()
  #model: ListenerModel
  /** The model's forwarding options with the port actually bound (the config may say 0). */
  #forwarding: ForwardingOptions
  #stopping = false

  constructor(model: ListenerModel, ctx: ProxyContext) {
    this.#model = model
    this.#forwarding = model.forwarding
    this.#ctx = ctx
    this.server = model.certificates !== undefined
      ? createTlsServer(model, () => this.#model.certificates ?? (model.certificates as CertificateTable))
      : createServer({
          ServerResponse: ProxyResponse,
          headersTimeout: model.config.limits.headerTimeout,
          keepAliveTimeout: model.config.limits.keepAliveTimeout,
          // Node keeps an idle connection 1 s past keepAliveTimeout by default; nginx closes it on time.
          keepAliveTimeoutBuffer: 0,
          // Uploads may take as long as they take; slow clients are bounded by the header timeout here and by
          // the body limits of a later issue, not by a blanket request timeout that would cut large bodies.
          requestTimeout: 0,
          // Node checks the header timeout on this interval (30s by default), which would let a slow client
          // hold a connection far past a short headerTimeout.
          connectionsCheckingInterval: Math.max(100, Math.min(1_000, model.config.limits.headerTimeout / 4)),
        })
    if (model.certificates === undefined) this.server.on('request', (req: IncomingMessage, res: ProxyResponse) => this.#onRequest(req, res))
    else {
      this.server.on('request', (req: IncomingMessage | Http2ServerRequest, res: ProxyResponse | Http2ServerResponse) => {
        if (isHttp2(req)) adaptH2(req as Http2ServerRequest, res as Http2ServerResponse)
        const hsts = this.#model.hsts
        if (hsts !== undefined) res.setHeader('strict-transport-security', hsts)
        // The HTTP/2 request and response, adapted, offer what the HTTP/1.1 path uses.
        this.#onRequest(req as IncomingMessage, res as ProxyResponse)
      })
      if (!('closeAllConnections' in this.server)) {
        // An HTTP/2 server cannot close its HTTP/1.1 connections itself; keep them to end them on stop.
        this.server.on('secureConnection', (socket: Socket) => {
          this.#sockets.add(socket)
          socket.once('close', () => this.#sockets.delete(socket))
        })
      }
      this.server.on('session', (session: Http2Session) => {
        this.#sessions.add(session)
        session.once('close', () => this.#sessions.delete(session))
        if (this.#stopping) session.close()
      })
    }
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#onUpgrade(req, socket, head))
    // A balancer is no forward proxy: CONNECT gets 400 (as nginx) and is never tunnelled.
    this.server.on('connect', (_req: IncomingMessage, socket: Socket) => {
      socket.on('error', () => socket.destroy())
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 16\r\nconnection: close\r\n\r\n400 Bad Request\n')
    })
    const observer = ctx.observer
    if (observer !== undefined) {
      this.server.on('connection', (socket: Socket) => {
        const name = this.#model.name
        observer.connectionOpened(name)
        socket.once('close', () => observer.connectionClosed(name))
      })
    }
    applyClientLimits(this.server, model.config.limits)
    // Last, so that the header is read before every handler above sees the connection.
    gateConnections(this.server as NetServer, {
      enabled: () => this.#model.config.acceptProxyProtocol,
      timeoutMs: () => this.#model.config.limits.headerTimeout,
      tls: model.certificates !== undefined,
      cap: ctx.connectionCap,
    })
  }

  get model(): ListenerModel {
    return this.#model
  }

  /** The bound port (useful when the config asked for port 0). */
  get port(): number {
    return boundPort(this.server as NetServer, this.#model.port)
  }

  async listen(options: { reusePort?: boolean } = {}): Promise<void> {
    await listenTcp(this.server as NetServer, this.#model, options.reusePort === true)
    this.#forwarding = { ...this.#model.forwarding, port: String(this.port) }
  }

  /** Serve new requests with a new generation's routes and settings. */
  update(model: AnyListenerModel): void {
    if (model.kind !== 'http') throw wrongKind(model, 'http')
    this.#model = model
    this.#forwarding = { ...model.forwarding, port: String(this.port) }
    if (model.certificates !== undefined) {
      // New handshakes without SNI get the new default certificate; SNI lookups read the model already.
      (this.server as TlsServer).setSecureContext(model.certificates.defaultOptions)
    }
    applyClientLimits(this.server, model.config.limits)
  }

  #onRequest(req: IncomingMessage, res: ProxyResponse): void {
    // Pipelined behind a refused request: the connection is closing, and nothing after the refusal is read as a request.
    if (onClosingConnection(req)) return
    const model = this.#model
    if (this.#stopping) res.shouldKeepAlive = false
    this.#ctx.observer?.requestStarted(model.name)
    const who = this.#guard.admit(req, res, model, this.#forwarding)
    if (who === undefined) {
      this.#record(req, res, -1, socketClient(req.socket), this.#ctx.observer === undefined ? 0 : this.#ctx.now(), 0)
      return
    }
    if (model.virtualHosts !== undefined) {
      this.#onVirtualHostRequest(req, res, model.virtualHosts, who)
      return
    }
    const action = model.router.match(req as Required<IncomingMessage>)
    // Routes that use access, limits, proxy options, addHeaders, templates or nginx pages go the long way.
    const extras = action === undefined ? model.fallback : action.extras
    if (extras !== undefined) {
      this.#serve(req, res, action, extras, undefined, false, who)
      return
    }
    if (action !== undefined && action.kind === 'forward') {
      const group = action.groups.choose()
      new ProxyExchange(req, res, group, this.#ctx, who.clientIp, who.forwarding, model.name, action.index).start()
      return
    }
    const startedAt = this.#ctx.observer === undefined ? 0 : this.#ctx.now()
    let bytes = 0
    if (action === undefined) bytes = sendError(res, 404, undefined)
    else if (action.kind === 'respond') {
      res.writeHead(action.status, action.headers as string[])
      if (req.method === 'HEAD') res.end()
      else { res.end(action.body); bytes = action.body.length }
    } else {
      res.writeHead(action.status, ['location', action.location, 'content-length', '0'])
      res.end()
    }
    this.#record(req, res, action?.index ?? -1, who.clientIp, startedAt, bytes)
  }

  /** Hands a request the listener answered itself to the observer, once its connection is done with it. */
  #record(req: IncomingMessage, res: ProxyResponse, index: number, clientIp: string, startedAt: number, bytes: number, logged = true): void {
    const observer = this.#ctx.observer
    if (observer === undefined) return
    const record = new LocalRecord(this.#model.name, index, req, res, clientIp, startedAt, bytes, logged)
    res.once('close', () => observer.requestDone(record, this.#ctx.now()))
  }

  /** nginx server blocks: a bad Host or URI is 400, then server_name, then location selection. */
  #onVirtualHostRequest(req: IncomingMessage, res: ProxyResponse, servers: ServerTable<VirtualHostModel>, who: Admitted): void {
    const host = validHost(req.headers.host)
    const vhost = host === undefined ? servers.default : servers.select(host)
    const uri = host === undefined ? undefined : normalizeUri(req.url as string)
    if (uri === undefined) {
      const startedAt = this.#ctx.observer === undefined ? 0 : this.#ctx.now()
      const scope = new RequestScope(req, vhost.fallback, who.clientIp, this.#forwarding.port, undefined)
      this.#record(req, res, -1, who.clientIp, startedAt, sendError(res, 400, undefined, scope))
      return
    }
    const found = vhost.locations.find(uri)
    if (found === undefined) this.#serve(req, res, undefined, vhost.fallback, uri, false, who)
    else this.#serve(req, res, found.value, found.value.extras as RouteExtras, uri, found.redirect, who)
  }

  /**
   * A request whose route (or location) has extras, in nginx's order: a Content-Length over the body limit
   * (413, and the connection closes), the auto redirect of "/x" to "/x/", allow/deny (403), then the action.
   */
  #serve(req: IncomingMessage, res: ProxyResponse, action: RouteAction | undefined, extras: RouteExtras, uri: string | undefined,
    redirectSlash: boolean, who: Admitted): void {
    const clientIp = who.clientIp
    const scope = new RequestScope(req, extras, clientIp, this.#forwarding.port, uri)
    const index = action?.index ?? -1
    const startedAt = this.#ctx.observer === undefined ? 0 : this.#ctx.now()
    const max = extras.maxBodyBytes
    if (max > 0) {
      const length = req.headers['content-length']
      if (length !== undefined && Number(length) > max) {
        this.#record(req, res, index, clientIp, startedAt, sendError(res, 413, undefined, scope), extras.logged)
        return
      }
    }
    if (redirectSlash) {
      this.#record(req, res, index, clientIp, startedAt, this.#redirect(res, 301, this.#slashLocation(scope, uri as string), scope), extras.logged)
      return
    }
    if (extras.bodyTimeout !== undefined) RequestGuard.setBodyTimeout(req, extras.bodyTimeout)
    if (extras.rateLimits !== undefined) {
      // nginx's order: limit_req (preaccess) before allow/deny (access).
      const outcome = checkRateLimits(extras.rateLimits, clientIp, req.headers, this.#ctx.now())
      if (outcome.kind === 'reject') {
        this.#record(req, res, index, clientIp, startedAt, sendError(res, outcome.status, undefined, scope, ['retry-after', String(outcome.retryAfterS)]), extras.logged)
        return
      }
      if (outcome.delayMs > 0) {
        // Held as nginx holds it, then served with the state of the world at that time.
        const timer = setTimeout(() => { if (!res.destroyed) this.#act(req, res, action, extras, scope, who, index, startedAt) }, outcome.delayMs)
        res.once('close', () => clearTimeout(timer))
        return
      }
    }
    this.#act(req, res, action, extras, scope, who, index, startedAt)
  }

  /** After the checks of #serve: allow/deny, then the action. */
  #act(req: IncomingMessage, res: ProxyResponse, action: RouteAction | undefined, extras: RouteExtras, scope: RequestScope,
    who: Admitted, index: number, startedAt: number): void {
    const clientIp = who.clientIp
    if (extras.access !== undefined && !extras.access.allows(clientIp)) {
      this.#record(req, res, index, clientIp, startedAt, sendError(res, 403, undefined, scope), extras.logged)
      return
    }
    if (action === undefined || (action.kind === 'respond' && action.notFound === true)) {
      this.#record(req, res, index, clientIp, startedAt, sendError(res, 404, undefined, scope), extras.logged)
      return
    }
    if (action.kind === 'forward') {
      new ProxyExchange(req, res, action.groups.choose(), this.#ctx, clientIp, who.forwarding, this.#model.name, index, scope).start()
      return
    }
    let bytes = 0
    if (action.kind === 'redirect') {
      const location = action.template === undefined ? action.location : evaluate(action.template, scope)
      bytes = this.#redirect(res, action.status, location, scope)
    } else {
      const body = action.template === undefined ? action.body : Buffer.from(evaluate(action.template, scope))
      if (extras.nginxPages && body.length === 0 && nginxPage(action.status) !== undefined) {
        // nginx's "return 404;" (no text) answers with its page.
        bytes = sendNginxPage(res, action.status, [], scope)
      } else {
        const headers = [...action.headers]
        if (action.template !== undefined) headers.push('content-length', String(body.length))
        scope.decorate(action.status, headers)
        res.writeHead(action.status, headers)
        if (req.method === 'HEAD') res.end()
        else { res.end(body); bytes = body.length }
      }
    }
    this.#record(req, res, index, clientIp, startedAt, bytes, extras.logged)
  }

  #redirect(res: ProxyResponse, status: number, location: string, scope: RequestScope): number {
    if (scope.nginxPages) return sendNginxPage(res, status, ['location', location], scope)
    const headers = ['location', location, 'content-length', '0']
    scope.decorate(status, headers)
    res.writeHead(status, headers)
    res.end()
    return 0
  }

  /** nginx's auto redirect target: absolute, with $host and the listener's port unless the scheme's default, and the query. */
  #slashLocation(scope: RequestScope, uri: string): string {
    const scheme = this.#forwarding.proto
    const port = this.#forwarding.port === (scheme === 'https' ? '443' : '80') ? '' : `:${this.#forwarding.port}`
    const args = targetArgs(scope.url)
    return `${scheme}://${hostVariable(scope)}${port}${escapeUri(uri)}/${args === '' ? '' : `?${args}`}`
  }

  #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const model = this.#model
    const action: RouteAction | undefined = model.virtualHosts === undefined ? model.router.match(req as Required<IncomingMessage>)
      : this.#upgradeLocation(req, model.virtualHosts)
    const clientIp = clientOf(req, model)
    const denied = action?.extras?.access !== undefined && !action.extras.access.allows(clientIp)
    const limits = action?.extras?.rateLimits
    const limited = limits === undefined || denied ? undefined : checkRateLimits(limits, clientIp, req.headers, this.#ctx.now())
    if (action === undefined || action.kind !== 'forward' || this.#stopping || denied || limited?.kind === 'reject') {
      const status = action === undefined ? '404 Not Found' : this.#stopping ? '503 Service Unavailable'
        : denied ? '403 Forbidden' : limited?.kind === 'reject' ? `${limited.status} ${STATUS_CODES[limited.status] ?? 'Error'}\r\nretry-after: ${limited.retryAfterS}`
          : '400 Bad Request'
      socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`)
      return
    }
    tunnelUpgrade(req, socket, head, action.groups.choose(), this.#ctx, this.#forwarding, clientIp, (s) => {
      this.#tunnels.add(s)
      s.once('close', () => this.#tunnels.delete(s))
    })
  }

  /** The location of an Upgrade request on a listener with virtual hosts (no auto redirect for upgrades). */
  #upgradeLocation(req: IncomingMessage, servers: ServerTable<VirtualHostModel>): RouteAction | undefined {
    const host = validHost(req.headers.host)
    const uri = host === undefined ? undefined : normalizeUri(req.url as string)
    if (host === undefined || uri === undefined) return undefined
    return servers.select(host).locations.find(uri)?.value
  }

  /**
   * Stop accepting, let requests in flight finish (closing each connection once idle), and after
   * `drainTimeout` close whatever is left. Resolves when every connection is closed.
   */
  close(drainTimeout: number): Promise<void> {
    this.#stopping = true
    return new Promise((resolve) => {
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        clearInterval(idleSweep)
        clearTimeout(deadline)
        resolve()
      }
      const server = this.server
      server.close(finish)
      // HTTP/2 sessions get a GOAWAY: streams running finish, no new ones start.
      for (const s of this.#sessions) s.close()
      const closeIdle = (): void => { if ('closeIdleConnections' in server) server.closeIdleConnections() }
      closeIdle()
      // A keep-alive connection turns idle when its last response ends; close it then.
      const idleSweep = setInterval(closeIdle, 50)
      const deadline = setTimeout(() => {
        if ('closeAllConnections' in server) server.closeAllConnections()
        for (const s of this.#sessions) s.destroy()
        for (const s of this.#sockets) s.destroy()
        for (const s of this.#tunnels) s.destroy()
        setImmediate(finish)
      }, drainTimeout)
    })
  }
}
