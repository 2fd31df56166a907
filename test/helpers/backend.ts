/**
 * Scripted backends for integration tests: real node:http servers on 127.0.0.1 port 0 that record what
 * they received and answer as the test says (by default `Response from <port>`), and can be killed
 * (every socket destroyed at once, as a crashed process would) and restarted on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { once } from 'node:events'

export interface Received {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly rawHeaders: string[]
}

export type Handler = (req: IncomingMessage, res: ServerResponse, backend: Backend) => void

export class Backend {
  readonly received: Received[] = []
  /** TCP connections accepted so far (to see whether the balancer reuses pooled ones). */
  connections = 0
  port = 0
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  handler: Handler

  constructor(handler?: Handler) {
    this.handler = handler ?? ((req, res) => {
      req.resume()
      res.end(`Response from ${this.port}`)
    })
  }

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  get count(): number {
    return this.received.length
  }

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      this.received.push({ method: req.method as string, url: req.url as string, headers: req.headers, rawHeaders: req.rawHeaders })
      this.handler(req, res, this)
    })
    server.on('connection', (s: Socket) => {
      this.connections++
      this.#sockets.add(s)
      s.once('close', () => this.#sockets.delete(s))
    })
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    this.port = (server.address() as { port: number }).port
    this.#server = server
    return this
  }

  /** Like a crash: stop listening and reset every open connection. */
  async kill(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    for (const s of this.#sockets) s.resetAndDestroy()
    server.close()
    await once(server, 'close')
  }

  async close(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  }
}

export async function startBackends(n: number, handler?: Handler): Promise<Backend[]> {
  return Promise.all(Array.from({ length: n }, () => new Backend(handler).start()))
}
