/**
 * The UDP listener. UDP has no connections, so a session is made per client address: the first datagram
 * from a client picks a target (by the group's algorithm) and opens a socket connected to it; later
 * datagrams from that client go through the same socket, and whatever the target sends back to it goes
 * to that client. A session ends after `idleTimeout` with no datagram either way. The table is bounded
 * by `maxSessions`: a new client past it replaces the session idle the longest (a Map keeps insertion
 * order, and each datagram moves its session to the end, so the first entry is always the oldest).
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import { beginAttempt, recordFailure, recordSuccess } from '../health/passive.ts'
import type { AnyListenerModel, DatagramListenerModel } from '../model/build.ts'
import type { SessionOutcome } from '../observe/observer.ts'
import type { GroupTarget, TargetGroup } from '../targets/target-group.ts'
import type { ProxyContext } from '../upstream/proxy.ts'
import { clientAddress } from './client-address.ts'
import { listenError, wrongKind, type Listener } from './listener.ts'

/** Datagrams held per session while its socket connects; more are dropped, as a full network queue would. */
const PENDING_LIMIT = 64
const NO_HEADERS = Object.freeze({})

class UdpSession {
  readonly key: string
  readonly clientPort: number
  readonly clientHost: string
  readonly group: TargetGroup
  readonly target: GroupTarget
  readonly socket: UdpSocket
  lastActive: number
  readonly startedAt: number
  /** Datagrams that arrived before the socket connected. */
  pending: Buffer[] | undefined = []
  bytesFromClient = 0
  bytesToClient = 0
  closed = false

  constructor(key: string, client: RemoteInfo, group: TargetGroup, target: GroupTarget, now: number) {
    this.key = key
    this.clientHost = client.address
    this.clientPort = client.port
    this.group = group
    this.target = target
    this.lastActive = now
    this.startedAt = now
    this.socket = createSocket(isIPv6(target.host) ? 'udp6' : 'udp4')
  }
}

export class DatagramListener implements Listener {
  /** Made by listen(), as SO_REUSEPORT can only be set when a socket is created. */
  #socket: UdpSocket | undefined
  readonly #ctx: ProxyContext
  readonly #sessions = new Map<string, UdpSession>()
  #model: DatagramListenerModel
  #sweep: NodeJS.Timeout | undefined
  #closed = false

  constructor(model: DatagramListenerModel, ctx: ProxyContext) {
    this.#model = model
    this.#ctx = ctx
  }

  get socket(): UdpSocket {
    if (this.#socket === undefined) throw new Error(`listener ${this.#model.name} is not listening`)
    return this.#socket
  }

  get model(): DatagramListenerModel {
    return this.#model
  }

  get port(): number {
    try {
      return this.#socket?.address().port ?? this.#model.port
    } catch {
      return this.#model.port
    }
  }

  /** Sessions open now (for tests and status). */
  get sessions(): number {
    return this.#sessions.size
  }

  listen(options: { reusePort?: boolean } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      // An IPv6 socket also takes IPv4 clients (as ::ffff:a.b.c.d) unless the listen address is IPv4.
      const type = this.#model.host !== undefined && !isIPv6(this.#model.host) ? 'udp4' : 'udp6'
      const socket = createSocket({ type, reusePort: options.reusePort === true })
      socket.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo))
      this.#socket = socket
      const onError = (err: NodeJS.ErrnoException): void => reject(listenError(this.#model, err, '/udp'))
      socket.once('error', onError)
      socket.bind({ address: this.#model.host ?? (type === 'udp6' ? '::' : '0.0.0.0'), port: this.#model.port }, () => {
        socket.off('error', onError)
        // A send to a client that went away reports here; nothing to do but go on.
        socket.on('error', () => {})
        this.#startSweep()
        resolve()
      })
    })
  }

  update(model: AnyListenerModel): void {
    if (model.kind !== 'datagram') throw wrongKind(model, 'datagram')
    const idleChanged = model.config.idleTimeout !== this.#model.config.idleTimeout
    this.#model = model
    if (idleChanged) this.#startSweep()
  }

  #startSweep(): void {
    clearInterval(this.#sweep)
    const every = Math.max(50, Math.min(1_000, this.#model.config.idleTimeout / 4))
    this.#sweep = setInterval(() => this.#expire(), every)
    this.#sweep.unref()
  }

  #expire(): void {
    const oldest = this.#ctx.now() - this.#model.config.idleTimeout
    for (const s of this.#sessions.values()) {
      if (s.lastActive > oldest) break
      this.#end(s, 'closed')
    }
  }

  #onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return
    const model = this.#model
    const key = `${rinfo.address}\n${rinfo.port}`
    const now = this.#ctx.now()
    let session = this.#sessions.get(key)
    if (session === undefined) {
      session = this.#open(key, rinfo, model, now)
      if (session === undefined) return
    } else {
      session.lastActive = now
      // Move to the end: the Map's order is the order of last activity.
      this.#sessions.delete(key)
      this.#sessions.set(key, session)
    }
    session.bytesFromClient += msg.length
    if (session.pending !== undefined) {
      if (session.pending.length < PENDING_LIMIT) session.pending.push(msg)
    } else session.socket.send(msg)
  }

  #open(key: string, rinfo: RemoteInfo, model: DatagramListenerModel, now: number): UdpSession | undefined {
    const observer = this.#ctx.observer
    const clientIp = clientAddress(rinfo.address)
    if (model.access !== undefined && !model.access.allows(clientIp)) {
      // Counted once per datagram: a denied client has no session to count against.
      observer?.sessionDone({ ...this.#facts(model, rinfo, now, now), targetGroup: '', target: '', outcome: 'denied', bytesFromClient: 0, bytesToClient: 0 })
      return undefined
    }
    const group = model.forward.choose()
    const target = group.pick({ method: '', url: '', clientIp, headers: NO_HEADERS }, undefined, now)
    if (target === undefined) {
      observer?.sessionDone({ ...this.#facts(model, rinfo, now, now), targetGroup: group.name, target: '', outcome: 'no-target', bytesFromClient: 0, bytesToClient: 0 })
      return undefined
    }
    if (this.#sessions.size >= model.config.maxSessions) {
      const oldest = this.#sessions.values().next().value as UdpSession
      this.#end(oldest, 'evicted')
    }
    const session = new UdpSession(key, rinfo, group, target, now)
    this.#sessions.set(key, session)
    observer?.connectionOpened(model.name)
    target.state.inFlight++
    beginAttempt(target.state, now)
    session.socket.on('message', (reply) => {
      if (session.closed) return
      session.lastActive = this.#ctx.now()
      session.bytesToClient += reply.length
      this.socket.send(reply, session.clientPort, session.clientHost)
    })
    session.socket.on('error', (err: NodeJS.ErrnoException) => {
      // A connected UDP socket learns of a closed port from ICMP: ECONNREFUSED on a later send or receive.
      if (group.passiveApplies) {
        observer?.passiveFailure(group.name, target.address, err.code ?? err.message)
        if (recordFailure(target.state, group.passive, this.#ctx.now())) this.#ctx.onTargetDown(group, target, err.code ?? err.message)
      }
      this.#end(session, 'error')
    })
    session.socket.connect(target.port, target.host, () => {
      if (session.closed) return
      if (recordSuccess(target.state)) this.#ctx.onTargetUp(group, target)
      const pending = session.pending ?? []
      session.pending = undefined
      for (const m of pending) session.socket.send(m)
    })
    return session
  }

  #end(session: UdpSession, outcome: SessionOutcome): void {
    if (session.closed) return
    session.closed = true
    this.#sessions.delete(session.key)
    session.target.state.inFlight--
    try {
      session.socket.close()
    } catch {
      // Already closed by an error.
    }
    const observer = this.#ctx.observer
    observer?.connectionClosed(this.#model.name)
    observer?.sessionDone({
      ...this.#facts(this.#model, { address: session.clientHost, port: session.clientPort }, session.startedAt, this.#ctx.now()),
      targetGroup: session.group.name, target: session.target.address, outcome,
      bytesFromClient: session.bytesFromClient, bytesToClient: session.bytesToClient,
    })
  }

  /** What a session's record says of the client and this listener. */
  #facts(model: DatagramListenerModel, client: { address: string; port: number }, startedAt: number, endedAt: number) {
    return {
      listener: model.name, protocol: 'UDP' as const, clientIp: clientAddress(client.address), clientPort: client.port,
      serverPort: this.port, serverName: '', startedAt, endedAt,
    }
  }

  /** UDP has nothing to drain: replies still on their way are dropped once the sessions close. */
  close(drainTimeout: number): Promise<void> {
    void drainTimeout
    this.#closed = true
    clearInterval(this.#sweep)
    for (const s of [...this.#sessions.values()]) this.#end(s, 'closed')
    return new Promise((resolve) => {
      if (this.#socket === undefined) return resolve()
      try {
        this.#socket.close(() => resolve())
      } catch {
        resolve()
      }
    })
  }
}
