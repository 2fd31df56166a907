/**
 * TCP and UDP test peers for the L4 listeners: targets that answer with their name (echo, or after the
 * client half-closes), a client that sends, reads until close, and gives up after a bound, and a UDP
 * echo target.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect, createServer, type Server, type Socket } from 'node:net'

/** A TCP target. `echo`: each chunk comes back prefixed by the name. `onEnd`: when the client half-closes, answer "NAME got N bytes" and close. */
export class TcpTarget {
  readonly name: string
  readonly server: Server
  readonly sockets = new Set<Socket>()
  /** Connections accepted so far. */
  accepted = 0
  /** The first bytes each connection started with, up to 200 (to see a PROXY header). */
  readonly starts: Buffer[] = []
  #port = 0

  constructor(name: string, mode: 'echo' | 'onEnd' = 'echo') {
    this.name = name
    this.server = createServer({ allowHalfOpen: true }, (socket) => {
      this.accepted++
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
      socket.on('error', () => socket.destroy())
      let total = 0
      let first = true
      socket.on('data', (chunk: Buffer) => {
        if (first) { this.starts.push(chunk.subarray(0, 200)); first = false }
        total += chunk.length
        if (mode === 'echo') socket.write(Buffer.concat([Buffer.from(`${name}:`), chunk]))
      })
      socket.on('end', () => { if (mode === 'onEnd') socket.end(`${name} got ${total} bytes`); else socket.end() })
    })
  }

  get port(): number {
    return this.#port
  }

  get address(): string {
    return `127.0.0.1:${this.#port}`
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve))
    this.#port = (this.server.address() as { port: number }).port
    return this
  }

  /** Stop as a crashed process would: no more connections, open ones reset. */
  async kill(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

export async function startTcpTargets(names: string[], mode: 'echo' | 'onEnd' = 'echo'): Promise<TcpTarget[]> {
  return Promise.all(names.map((n) => new TcpTarget(n, mode).start()))
}

export interface Exchange {
  readonly text: string
  /** How the connection ended: 'end' (FIN from the other side), 'reset' (error), 'timeout' (our bound). */
  readonly how: 'end' | 'reset' | 'timeout'
}

/**
 * Connects, writes `data` (and half-closes when `halfClose`), reads until the other side closes or
 * `ms` passes (then destroys). `closeAfter`: stop once this many bytes came back.
 */
export function exchange(port: number, data: string | Buffer, options: { halfClose?: boolean; localAddress?: string; ms?: number; closeAfter?: number } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let received = 0
    const socket = connect({ host: '127.0.0.1', port, localAddress: options.localAddress, allowHalfOpen: true })
    const done = (how: Exchange['how']): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ text: Buffer.concat(chunks).toString(), how })
    }
    const timer = setTimeout(() => done('timeout'), options.ms ?? 3_000)
    socket.on('connect', () => {
      if (data.length > 0) socket.write(data)
      if (options.halfClose === true) socket.end()
    })
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      received += c.length
      if (options.closeAfter !== undefined && received >= options.closeAfter) done('end')
    })
    socket.on('end', () => done('end'))
    socket.on('error', () => done('reset'))
  })
}

/** A UDP target that answers each datagram with "NAME:" and the datagram. */
export class UdpTarget {
  readonly name: string
  readonly socket: UdpSocket = createSocket('udp4')
  received = 0
  /** Distinct source ports seen (one per balancer session). */
  readonly sources = new Set<number>()

  constructor(name: string) {
    this.name = name
    this.socket.on('message', (msg, rinfo) => {
      this.received++
      this.sources.add(rinfo.port)
      this.socket.send(Buffer.concat([Buffer.from(`${name}:`), msg]), rinfo.port, rinfo.address)
    })
  }

  get address(): string {
    return `127.0.0.1:${this.socket.address().port}`
  }

  start(): Promise<this> {
    return new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve(this)))
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }
}

/** A UDP client with its own port: sends datagrams and collects the replies. */
export class UdpClient {
  readonly socket: UdpSocket = createSocket('udp4')
  readonly replies: string[] = []

  constructor() {
    this.socket.on('message', (msg) => this.replies.push(msg.toString()))
  }

  start(): Promise<this> {
    return new Promise((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve(this)))
  }

  send(port: number, text: string): void {
    this.socket.send(text, port, '127.0.0.1')
  }

  /** Resolves once `n` replies came, or after `ms` with what came. */
  async waitFor(n: number, ms = 3_000): Promise<string[]> {
    const deadline = Date.now() + ms
    while (this.replies.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    return this.replies
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }
}
