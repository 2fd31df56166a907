/**
 * The TCP and TLS-passthrough listeners: each connection is relayed, byte for byte, to one target. In
 * order: the PROXY header when the listener accepts one, allow/deny, the SNI name of the ClientHello
 * (tls-passthrough: it picks the target group; the TLS itself stays end to end), a target connection
 * (refused and timed-out connects fall through to the next target before any byte is relayed), the
 * PROXY header to the target when the listener sends one, then the relay until both sides have closed.
 * Half-close is passed on: a client that shuts down its sending side still gets the target's answer.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { getExtensionData, readTlsClientHello } from 'read-tls-client-hello'
import type { RequestFacts } from '../balancing/algorithm.ts'
import type { AnyListenerModel, StreamListenerModel } from '../model/build.ts'
import type { GroupChooser } from '../model/group-chooser.ts'
import type { SessionOutcome, SessionRecord } from '../observe/observer.ts'
import type { ProxyAddresses } from '../proxy-protocol/proxy-header.ts'
import { encodeProxyHeaderV1, encodeProxyHeaderV2, proxyAddressesOf } from '../proxy-protocol/proxy-header-encode.ts'
import { ConnectionCounter } from '../protection/connection-counter.ts'
import { connectTarget } from '../upstream/connect-target.ts'
import type { ProxyContext } from '../upstream/proxy.ts'
import { clientAddress } from './client-address.ts'
import { boundPort, listenTcp, wrongKind, type Listener } from './listener.ts'
import { readProxyHeader } from './proxy-gate.ts'

const NO_HEADERS = Object.freeze({})

export class StreamListener implements Listener {
  readonly server: Server
  readonly #ctx: ProxyContext
  /** Client connections, to close them on stop. */
  readonly #clients = new Set<Socket>()
  readonly #connections = new ConnectionCounter()
  #model: StreamListenerModel

  constructor(model: StreamListenerModel, ctx: ProxyContext) {
    this.#model = model
    this.#ctx = ctx
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => { void this.#accept(socket) })
  }

  get model(): StreamListenerModel {
    return this.#model
  }

  get port(): number {
    return boundPort(this.server, this.#model.port)
  }

  listen(options: { reusePort?: boolean } = {}): Promise<void> {
    return listenTcp(this.server, this.#model, options.reusePort === true)
  }

  update(model: AnyListenerModel): void {
    if (model.kind !== 'stream') throw wrongKind(model, 'stream')
    this.#model = model
  }

  async #accept(client: Socket): Promise<void> {
    if (this.#ctx.connectionCap !== undefined && !this.#ctx.connectionCap.admit(client)) {
      client.destroy()
      return
    }
    // The generation the connection arrived in serves it to the end, as HTTP requests keep theirs.
    const model = this.#model
    const config = model.config
    const observer = this.#ctx.observer
    this.#clients.add(client)
    observer?.connectionOpened(model.name)
    let session: Session | undefined
    client.once('close', () => {
      this.#clients.delete(client)
      observer?.connectionClosed(model.name)
      session?.end(client)
    })
    client.on('error', () => client.destroy())
    // What the session's record says of the client; completed as the preamble is read.
    const facts: SessionFacts = {
      listener: model.name, protocol: 'TCP', clientIp: clientAddress(client.remoteAddress), clientPort: client.remotePort ?? 0,
      serverPort: this.port, serverName: '', startedAt: this.#ctx.now(),
    }
    const fail = (outcome: SessionOutcome, group = ''): void => {
      observer?.sessionDone({ ...facts, targetGroup: group, target: '', outcome, bytesFromClient: 0, bytesToClient: 0, endedAt: this.#ctx.now() })
      client.destroy()
    }

    let source = proxyAddressesOf(client)
    let preread: Buffer = Buffer.alloc(0)
    if (config.acceptProxyProtocol) {
      const read = await readProxyHeader(client, config.prereadTimeout)
      if (read === undefined) return fail('bad-preamble')
      if (read.header.kind === 'proxy') source = read.header.addresses
      preread = read.rest
    }
    const clientIp = source === undefined ? clientAddress(client.remoteAddress) : clientAddress(source.sourceAddress)
    facts.clientIp = clientIp
    if (source !== undefined) facts.clientPort = source.sourcePort
    if (model.access !== undefined && !model.access.allows(clientIp)) return fail('denied')
    const limits = config.connectionLimits
    if (limits !== undefined) {
      // nginx limit_conn for streams: open connections per client address and in all.
      const release = this.#connections.enter(clientIp, limits.perClient, limits.total)
      if (release === undefined) return fail('limited')
      client.once('close', release)
    }

    let chooser: GroupChooser | undefined = model.forward
    if (model.sni !== undefined) {
      if (preread.length > 0) client.unshift(preread)
      preread = Buffer.alloc(0)
      const name = await this.#serverName(client, config.prereadTimeout)
      if (name === null) return fail('bad-preamble')
      facts.serverName = name ?? ''
      chooser = (name === undefined ? undefined : model.sni.get(name)) ?? model.forward
      if (chooser === undefined) return fail('no-route')
    }
    if (client.destroyed) return
    const group = (chooser as GroupChooser).choose()
    const request: RequestFacts = { method: '', url: '', clientIp, headers: NO_HEADERS }
    connectTarget(group, request, this.#ctx, { clientGone: () => client.destroyed, allowHalfOpen: true }, (result) => {
      if (result.kind === 'failed') return fail(result.attempts === 0 ? 'no-target' : 'connect-failed', group.name)
      const upstream = result.socket
      const header = config.proxyProtocol !== undefined && source !== undefined ? proxyHeader(config.proxyProtocol, source) : undefined
      session = new Session(facts, group.name, result.target.address, upstream, result.release, this.#ctx, header?.length ?? 0)
      if (header !== undefined) upstream.write(header)
      if (preread.length > 0) upstream.write(preread)
      session.relay(client, config.idleTimeout)
    })
  }

  /**
   * The SNI name of the ClientHello (lower case), undefined when the client sent none, null when the
   * bytes are not a ClientHello or none came in time. The bytes stay in the socket for the target.
   */
  async #serverName(client: Socket, timeoutMs: number): Promise<string | undefined | null> {
    const timer = setTimeout(() => client.destroy(), timeoutMs)
    try {
      const hello = await readTlsClientHello(client)
      const sni = getExtensionData(hello, 'server_name') as { serverName?: string } | null | undefined
      return sni?.serverName?.toLowerCase()
    } catch {
      return null
    } finally {
      clearTimeout(timer)
    }
  }

  close(drainTimeout: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        clearTimeout(deadline)
        resolve()
      }
      // Open connections run on until they end (a relay has no request boundary to stop at) or the drain time is up.
      this.server.close(finish)
      const deadline = setTimeout(() => {
        for (const c of this.#clients) c.destroy()
        setImmediate(finish)
      }, drainTimeout)
    })
  }
}

function proxyHeader(version: 'v1' | 'v2', source: ProxyAddresses): Buffer {
  return version === 'v1' ? encodeProxyHeaderV1(source) : encodeProxyHeaderV2(source)
}

/** What a session's record says besides the target and the bytes. */
type SessionFacts = { -readonly [K in 'listener' | 'protocol' | 'clientIp' | 'clientPort' | 'serverPort' | 'serverName' | 'startedAt']: SessionRecord[K] }

/** One relayed connection: counts its bytes and reports how it ended, once. */
class Session {
  readonly #facts: SessionFacts
  readonly #group: string
  readonly #target: string
  readonly #upstream: Socket
  readonly #release: () => void
  readonly #ctx: ProxyContext
  /** The PROXY header written to the target, not counted as the client's bytes. */
  readonly #headerBytes: number
  #outcome: SessionOutcome = 'closed'
  #ended = false

  constructor(facts: SessionFacts, group: string, target: string, upstream: Socket, release: () => void, ctx: ProxyContext, headerBytes: number) {
    this.#headerBytes = headerBytes
    this.#facts = facts
    this.#group = group
    this.#target = target
    this.#upstream = upstream
    this.#release = release
    this.#ctx = ctx
  }

  relay(client: Socket, idleTimeout: number): void {
    const upstream = this.#upstream
    // pipe() passes each side's end on as a half-close, and waits on the slower side (backpressure).
    client.pipe(upstream)
    upstream.pipe(client)
    client.resume()
    upstream.on('error', () => {
      this.#outcome = 'error'
      client.destroy()
    })
    client.on('error', () => {
      this.#outcome = 'error'
      upstream.destroy()
    })
    upstream.once('close', () => {
      this.end(client)
      // The target is gone: what it sent has been written (or is being); the client may stop now.
      if (!client.destroyed) client.end()
    })
    if (idleTimeout > 0) {
      // A socket's timer restarts on every read and write, so the client side sees traffic both ways.
      client.setTimeout(idleTimeout, () => {
        this.#outcome = 'idle-timeout'
        client.destroy()
        upstream.destroy()
      })
    }
  }

  /** Either side closed: close the other, give the target's slot back, report. */
  end(client: Socket): void {
    if (this.#ended) return
    this.#ended = true
    if (client.destroyed && !this.#upstream.destroyed) this.#upstream.destroy()
    this.#release()
    this.#ctx.observer?.sessionDone({
      ...this.#facts, targetGroup: this.#group, target: this.#target, outcome: this.#outcome,
      bytesFromClient: this.#upstream.bytesWritten - this.#headerBytes, bytesToClient: this.#upstream.bytesRead, endedAt: this.#ctx.now(),
    })
  }
}
