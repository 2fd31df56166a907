/**
 * Recording backends: one node:http server per address the configuration names, on a free 127.0.0.1 port.
 * Each records what it received (method, URI, raw headers in order, body) into one shared log and
 * answers `backend <address>`, or misbehaves as the case says: refuse connections, reset them, or answer
 * a status of its own.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { Socket } from 'node:net'

/**
 * `ok` (default), `refuse` (nothing listens), `reset` (read the request, then cut the connection), `hang`
 * (read the request, never answer), `status N` (answer N), `redirect URL` (answer 302 with that Location).
 */
export type Behaviour = string

export interface Attempt {
  backend: string
  method: string
  url: string
  /** As received: name, value, name, value, … */
  rawHeaders: string[]
  /** The body itself when short and printable, else its length and SHA-256. */
  body: string
}

export class Backends {
  readonly log: Attempt[] = []
  readonly ports = new Map<string, number>()
  readonly #servers: Server[] = []
  readonly #sockets = new Set<Socket>()

  /** Starts one backend per key; `behaviours` maps keys to how they misbehave. */
  static async start(keys: readonly string[], behaviours: Record<string, Behaviour> = {}): Promise<Backends> {
    const backends = new Backends()
    try {
      for (const key of keys) await backends.#start(key, behaviours[key] ?? 'ok')
    } catch (err) {
      await backends.close()
      throw err
    }
    return backends
  }

  async #start(key: string, behaviour: Behaviour): Promise<void> {
    if (behaviour === 'refuse') {
      // A port that was free a moment ago and that nothing listens on.
      const probe = createServer().listen(0, '127.0.0.1')
      await once(probe, 'listening')
      this.ports.set(key, (probe.address() as { port: number }).port)
      probe.close()
      await once(probe, 'close')
      return
    }
    const status = /^status (\d{3})$/.exec(behaviour)
    const redirect = /^redirect (\S+)$/.exec(behaviour)
    if (behaviour !== 'ok' && behaviour !== 'reset' && behaviour !== 'hang' && status === null && redirect === null) {
      throw new Error(`backend ${key}: unknown behaviour "${behaviour}"; write ok, refuse, reset, hang, "status N" or "redirect URL"`)
    }
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        this.log.push({ backend: key, method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body: describeBody(Buffer.concat(chunks)) })
        if (behaviour === 'reset') {
          req.socket.destroy()
          return
        }
        if (behaviour === 'hang') return // close() cuts it
        const body = `backend ${key}\n`
        const headers: Record<string, string | number> = { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) }
        if (redirect !== null) headers.Location = redirect[1]
        res.writeHead(status !== null ? Number(status[1]) : redirect !== null ? 302 : 200, headers)
        res.end(body)
      })
    })
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s)
      s.once('close', () => this.#sockets.delete(s))
    })
    // A hung request is not the server's to time out: the proxy in front must.
    server.requestTimeout = 0
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    this.ports.set(key, (server.address() as { port: number }).port)
    this.#servers.push(server)
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    await Promise.all(this.#servers.map((s) => new Promise((done) => s.close(done))))
  }
}

function describeBody(body: Buffer): string {
  if (body.length === 0) return ''
  if (body.length <= 200 && /^[\x20-\x7e\r\n\t]*$/.test(body.toString('latin1'))) return body.toString('latin1')
  return `${body.length} bytes, sha256 ${createHash('sha256').update(body).digest('hex').slice(0, 16)}`
}
