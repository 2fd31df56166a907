/**
 * A target that misbehaves on purpose, for the fault suite: a raw node:net server on 127.0.0.1 port 0 that
 * reads HTTP/1.1 requests itself and answers each one as its script says — correctly (a body naming the
 * request), late, never, with headers and then a stalled or reset body, with malformed bytes, or by closing
 * a keep-alive connection right after answering. node:http would refuse to write most of these, hence net.
 * Like Backend it can be killed (every socket reset, as a crashed process) and restarted on the same port.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { once } from 'node:events'

export interface RawRequest {
  readonly method: string
  readonly url: string
  /** Lower-case names; a repeated header keeps its last value. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** 0-based among every request this target read. */
  readonly index: number
  /** 0-based on its connection: above 0 means the connection was reused (keep-alive). */
  readonly onConnection: number
}

/** What the target does with one request it has read. */
export type Behaviour =
  /** A well-formed answer (by default a body naming the request), optionally late; then keep the connection or FIN it. */
  | { readonly do: 'answer'; readonly status?: number; readonly body?: string; readonly delayMs?: number; readonly then?: 'keep' | 'close' }
  /** Never answer; the connection stays open until the peer closes it. */
  | { readonly do: 'hang' }
  /** RST before a single byte of answer. */
  | { readonly do: 'reset' }
  /** Status line, headers (Content-Length, or chunked) and half the body, then silence (or the rest after resumeAfterMs). */
  | { readonly do: 'stall-body'; readonly chunked?: boolean; readonly resumeAfterMs?: number }
  /** Status line, headers (Content-Length, or chunked) and half the body, then RST. */
  | { readonly do: 'reset-mid-body'; readonly chunked?: boolean }
  /** These bytes as they are (a malformed status line, a header without colon, …), then FIN (default) or keep. */
  | { readonly do: 'raw'; readonly bytes: string | Buffer; readonly then?: 'keep' | 'close' }

export type Script = (req: RawRequest, target: FaultyTarget) => Behaviour

export interface FaultyTargetOptions {
  /**
   * After each answer kept alive, FIN the connection if no new request came within a delay drawn from
   * [min, max] ms: a target whose keep-alive timeout is shorter than the balancer's, so that a pooled
   * connection may die just as the balancer reuses it.
   */
  readonly idleClose?: readonly [min: number, max: number]
  /** For idleClose; inject a seeded one to replay a run. Default Math.random. */
  readonly random?: () => number
}

/** The body of a correct answer from target `name`: it names the request, so a mixed-up answer shows. */
export function bodyFor(name: string, method: string, url: string, body = ''): string {
  return `${name} ${method} ${url}${body === '' ? '' : ` ${body}`}`
}

/** mulberry32 (src/balancing/testing.ts): a seeded generator, so that a random fault schedule can be replayed. */
export { mulberry32 as seeded } from '../../src/balancing/testing.ts'

const REASONS: Readonly<Record<number, string>> = { 200: 'OK', 404: 'Not Found', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' }

export class FaultyTarget {
  readonly name: string
  script: Script
  readonly received: RawRequest[] = []
  /** TCP connections accepted so far. */
  connections = 0
  port = 0
  readonly #options: FaultyTargetOptions
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()

  constructor(name: string, script: Script = () => ({ do: 'answer' }), options: FaultyTargetOptions = {}) {
    this.name = name
    this.script = script
    this.#options = options
  }

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  get count(): number {
    return this.received.length
  }

  /** Connections open right now. */
  get open(): number {
    return this.#sockets.size
  }

  async start(port = 0): Promise<this> {
    const server = createServer((socket) => this.#accept(socket))
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    this.port = (server.address() as { port: number }).port
    this.#server = server
    return this
  }

  /** Like a crash: stop listening and RST every open connection. */
  async kill(): Promise<void> {
    const server = this.#server
    this.#clearTimers()
    for (const s of this.#sockets) s.resetAndDestroy()
    if (server === undefined) return
    this.#server = undefined
    server.close()
    await once(server, 'close')
  }

  /** For t.after: the same as kill, and harmless when already stopped. */
  close(): Promise<void> {
    return this.kill()
  }

  #later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => { this.#timers.delete(timer); fn() }, ms)
    this.#timers.add(timer)
    return timer
  }

  #cancel(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return
    clearTimeout(timer)
    this.#timers.delete(timer)
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
  }

  #accept(socket: Socket): void {
    this.connections++
    this.#sockets.add(socket)
    socket.on('error', () => socket.destroy())
    let buffer: Buffer = Buffer.alloc(0)
    let onConnection = 0
    let idle: NodeJS.Timeout | undefined
    // One request at a time, as the balancer's pools send them (no pipelining); later bytes wait in the buffer.
    let busy = false
    const next = (): void => {
      if (busy || socket.destroyed) return
      const parsed = parseRequest(buffer)
      if (parsed === undefined) return
      buffer = buffer.subarray(parsed.length)
      this.#cancel(idle)
      const req: RawRequest = { ...parsed.request, index: this.received.length, onConnection: onConnection++ }
      this.received.push(req)
      busy = true
      this.#act(socket, req, this.script(req, this), () => {
        busy = false
        const range = this.#options.idleClose
        if (range !== undefined) {
          const [min, max] = range
          idle = this.#later(min + (this.#options.random ?? Math.random)() * (max - min), () => socket.end())
        }
        next()
      })
    }
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
      next()
    })
    socket.once('close', () => {
      this.#cancel(idle)
      this.#sockets.delete(socket)
    })
  }

  /** Carries out one behaviour; `kept` runs when the connection stays usable for the next request. */
  #act(socket: Socket, req: RawRequest, b: Behaviour, kept: () => void): void {
    switch (b.do) {
      case 'answer': {
        const send = (): void => {
          if (socket.destroyed) return
          const status = b.status ?? 200
          const body = b.body ?? bodyFor(this.name, req.method, req.url, req.body)
          socket.write(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}\r\ncontent-type: text/plain\r\n`
            + `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
          // 'close' answers as if keeping the connection (no Connection: close), then FINs it at once.
          if (b.then === 'close') socket.end()
          else kept()
        }
        if (b.delayMs === undefined) send()
        else this.#later(b.delayMs, send)
        return
      }
      case 'hang':
        return
      case 'reset':
        socket.resetAndDestroy()
        return
      case 'stall-body':
      case 'reset-mid-body': {
        const body = bodyFor(this.name, req.method, req.url, req.body)
        const half = body.slice(0, Math.ceil(body.length / 2))
        socket.write(b.chunked === true
          ? `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${Buffer.byteLength(half).toString(16)}\r\n${half}\r\n`
          : `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${half}`)
        // Let the first half reach the balancer (and the client) before the reset, so the fault is mid-body.
        if (b.do === 'reset-mid-body') this.#later(30, () => socket.resetAndDestroy())
        else if (b.resumeAfterMs !== undefined) {
          const rest = body.slice(half.length)
          this.#later(b.resumeAfterMs, () => {
            if (socket.destroyed) return
            socket.write(b.chunked === true ? `${Buffer.byteLength(rest).toString(16)}\r\n${rest}\r\n0\r\n\r\n` : rest)
            kept()
          })
        }
        return
      }
      case 'raw':
        socket.write(b.bytes)
        if (b.then === 'keep') kept()
        else socket.end()
        return
    }
  }
}

/** One request at the start of `buf` and how many bytes it took, or undefined while it is incomplete. */
function parseRequest(buf: Buffer): { request: Omit<RawRequest, 'index' | 'onConnection'>; length: number } | undefined {
  const end = buf.indexOf('\r\n\r\n')
  if (end === -1) return undefined
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
  const [method, url] = lines[0].split(' ')
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let offset = end + 4
  let body: Buffer
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = []
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', offset)
      if (lineEnd === -1) return undefined
      const size = parseInt(buf.subarray(offset, lineEnd).toString('latin1'), 16)
      if (size === 0) {
        // No trailers from the balancer: the last chunk is "0\r\n\r\n".
        if (buf.length < lineEnd + 4) return undefined
        offset = lineEnd + 4
        break
      }
      if (buf.length < lineEnd + 2 + size + 2) return undefined
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size))
      offset = lineEnd + 2 + size + 2
    }
    body = Buffer.concat(parts)
  } else {
    const length = Number(headers['content-length'] ?? 0)
    if (buf.length < offset + length) return undefined
    body = buf.subarray(offset, offset + length)
    offset += length
  }
  return { request: { method, url, headers, body: body.toString() }, length: offset }
}
