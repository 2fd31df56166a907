/**
 * An HTTP/1.1 listener: accepts connections, finds the route, and hands the request to its action. No
 * balancing here. The route table is swapped by `update()` on reload; requests already running keep the
 * generation they started with, and the socket stays open, so a reload loses nothing.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { ListenerModel, RouteAction } from '../model/build.ts'
import { ProxyExchange, type ProxyContext } from '../upstream/proxy.ts'
import { ProxyResponse, sendError } from '../upstream/response.ts'
import type { ForwardingOptions } from '../upstream/request-headers.ts'
import { clientAddress } from './client-address.ts'
import { tunnelUpgrade } from './upgrade.ts'
import { LocalRecord } from '../observe/observer.ts'

export class HttpListener {
  readonly server: Server<typeof IncomingMessage, typeof ProxyResponse>
  readonly #ctx: ProxyContext
  readonly #tunnels = new Set<Socket>()
  #model: ListenerModel
  /** The model's forwarding options with the port actually bound (the config may say 0). */
  #forwarding: ForwardingOptions
  #stopping = false

  constructor(model: ListenerModel, ctx: ProxyContext) {
    this.#model = model
    this.#forwarding = model.forwarding
    this.#ctx = ctx
    this.server = createServer({
      ServerResponse: ProxyResponse,
      headersTimeout: model.config.limits.headerTimeout,
      keepAliveTimeout: model.config.limits.keepAliveTimeout,
      // Uploads may take as long as they take; slow clients are bounded by the header timeout here and by
      // the body limits of a later issue, not by a blanket request timeout that would cut large bodies.
      requestTimeout: 0,
      // Node checks the header timeout on this interval (30s by default), which would let a slow client
      // hold a connection far past a short headerTimeout.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, model.config.limits.headerTimeout / 4)),
    })
    this.server.on('request', (req, res) => this.#onRequest(req, res))
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#onUpgrade(req, socket, head))
    const observer = ctx.observer
    if (observer !== undefined) {
      this.server.on('connection', (socket: Socket) => {
        const name = this.#model.name
        observer.connectionOpened(name)
        socket.once('close', () => observer.connectionClosed(name))
      })
    }
  }

  get model(): ListenerModel {
    return this.#model
  }

  /** The bound port (useful when the config asked for port 0). */
  get port(): number {
    const a = this.server.address()
    return typeof a === 'object' && a !== null ? a.port : this.#model.port
  }

  /**
   * `reusePort` (SO_REUSEPORT) lets every worker process bind the same port and the kernel spread the
   * connections between them; with one process it stays off, so a port in use is an error.
   */
  listen(options: { reusePort?: boolean } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const where = `${this.#model.host ?? '*'}:${this.#model.port}`
        reject(new Error(`listener ${this.#model.name} cannot listen on ${where}: ${err.code === 'EADDRINUSE'
          ? 'the address is already in use (another process, or another listener of this config)'
          : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.message}`, { cause: err }))
      }
      this.server.once('error', onError)
      this.server.listen({ host: this.#model.host, port: this.#model.port, backlog: 4096, reusePort: options.reusePort === true }, () => {
        this.server.off('error', onError)
        this.#forwarding = { ...this.#model.forwarding, port: String(this.port) }
        resolve()
      })
    })
  }

  /** Serve new requests with a new generation's routes and settings. */
  update(model: ListenerModel): void {
    this.#model = model
    this.#forwarding = { ...model.forwarding, port: String(this.port) }
    this.server.headersTimeout = model.config.limits.headerTimeout
    this.server.keepAliveTimeout = model.config.limits.keepAliveTimeout
  }

  #onRequest(req: IncomingMessage, res: ProxyResponse): void {
    const model = this.#model
    if (this.#stopping) res.shouldKeepAlive = false
    const action = model.router.match(req as Required<IncomingMessage>)
    if (action !== undefined && action.kind === 'forward') {
      const group = action.groups.choose()
      new ProxyExchange(req, res, group, this.#ctx, clientAddress(req.socket.remoteAddress), this.#forwarding,
        model.name, action.index).start()
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
    const observer = this.#ctx.observer
    if (observer !== undefined) {
      const record = new LocalRecord(model.name, action?.index ?? -1, req, res, clientAddress(req.socket.remoteAddress), startedAt, bytes)
      res.once('close', () => observer.requestDone(record, this.#ctx.now()))
    }
  }

  #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const model = this.#model
    const action: RouteAction | undefined = model.router.match(req as Required<IncomingMessage>)
    if (action === undefined || action.kind !== 'forward' || this.#stopping) {
      const status = action === undefined ? '404 Not Found' : this.#stopping ? '503 Service Unavailable' : '400 Bad Request'
      socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`)
      return
    }
    tunnelUpgrade(req, socket, head, action.groups.choose(), this.#ctx, this.#forwarding, (s) => {
      this.#tunnels.add(s)
      s.once('close', () => this.#tunnels.delete(s))
    })
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
      this.server.close(finish)
      this.server.closeIdleConnections()
      // A keep-alive connection turns idle when its last response ends; close it then.
      const idleSweep = setInterval(() => this.server.closeIdleConnections(), 50)
      const deadline = setTimeout(() => {
        this.server.closeAllConnections()
        for (const s of this.#tunnels) s.destroy()
        setImmediate(finish)
      }, drainTimeout)
    })
  }
}
