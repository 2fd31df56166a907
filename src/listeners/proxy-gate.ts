/**
 * Accepting the PROXY protocol: a connection's first bytes are a PROXY header (v1 or v2) written by the
 * balancer in front; its source is the real client. The header is read before anything else sees the
 * connection; a connection that sends none, a malformed one, or none in time is closed (nginx does the
 * same for `listen ... proxy_protocol`).
 */
import type { Server } from 'node:net'
import type { Socket } from 'node:net'
import { parseProxyHeader, type ParsedProxyHeader } from '../proxy-protocol/proxy-header.ts'
import type { ConnectionCap } from '../protection/connection-counter.ts'
import { rememberProxiedClient } from './client-address.ts'

export interface ProxyHeaderRead {
  readonly header: ParsedProxyHeader
  /** Bytes that came after the header in the same reads: the start of the client's own data. */
  readonly rest: Buffer
}

/**
 * Reads the PROXY header at the start of `socket`, leaving the socket paused. Resolves undefined (and the
 * socket destroyed) when the header is malformed, the client closes, or `timeoutMs` passes first.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeaderRead | undefined> {
  return new Promise((resolve) => {
    let received: Buffer = Buffer.alloc(0)
    const finish = (result: ProxyHeaderRead | undefined): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('end', onGone)
      socket.off('close', onGone)
      socket.off('error', onGone)
      if (result === undefined) socket.destroy()
      else socket.pause()
      resolve(result)
    }
    const onGone = (): void => finish(undefined)
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
      const parsed = parseProxyHeader(received)
      if (parsed.kind === 'incomplete') return
      if (parsed.kind === 'invalid') finish(undefined)
      else finish({ header: parsed, rest: received.subarray(parsed.length) })
    }
    const timer = setTimeout(onGone, timeoutMs)
    socket.on('data', onData)
    socket.once('end', onGone)
    socket.once('close', onGone)
    socket.once('error', onGone)
  })
}

/**
 * Admits connections under the process's cap, and puts the header read in front of a server's own connection handling (HTTP, HTTPS, HTTP/2): while
 * `enabled()` says so, each connection's header is read first, its source remembered as the client, and
 * only then is the connection handed to the listeners the server had. `tls`: the TLS layer reads bytes
 * already received from the socket's buffer; the HTTP/1.1 parser reads the socket's handle directly, so
 * it gets them as a 'data' event instead.
 */
export function gateConnections(server: Server, options: { enabled: () => boolean; timeoutMs: () => number; tls: boolean; cap?: ConnectionCap }): void {
  const handlers = server.listeners('connection') as Array<(socket: Socket) => void>
  server.removeAllListeners('connection')
  const handOver = (socket: Socket): void => {
    for (const h of handlers) h.call(server, socket)
  }
  server.on('connection', (socket: Socket) => {
    // Past maxConnections a connection is closed before anything reads from it.
    if (options.cap !== undefined && !options.cap.admit(socket)) {
      socket.destroy()
      return
    }
    if (!options.enabled()) {
      handOver(socket)
      return
    }
    void readProxyHeader(socket, options.timeoutMs()).then((read) => {
      if (read === undefined) return
      if (read.header.kind === 'proxy') rememberProxiedClient(socket, read.header.addresses.sourceAddress)
      if (options.tls) {
        if (read.rest.length > 0) socket.unshift(read.rest)
        handOver(socket)
        return
      }
      handOver(socket)
      if (read.rest.length > 0) socket.emit('data', read.rest)
      socket.resume()
    })
  })
}
