/**
 * The client's address as logs, headers and access rules see it. Normally the connection's peer; on a
 * listener with `acceptProxyProtocol`, the source of the PROXY header the connection began with (set by
 * proxy-gate.ts on the raw socket, which TLS and HTTP/2 sockets are found through).
 */
import type { Socket } from 'node:net'

/** IPv4 clients on a dual-stack socket without "::ffff:". */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return ''
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote
}

const proxiedClients = new WeakMap<object, string>()
/** Set once a listener accepts the PROXY protocol, so that others skip the lookup. */
let anyProxied = false

/** Records the client a PROXY header named for this raw connection. */
export function rememberProxiedClient(raw: Socket, address: string): void {
  anyProxied = true
  proxiedClients.set(raw, clientAddress(address))
}

/** The client of a connection: the PROXY header's source when it had one, else the peer. */
export function socketClient(socket: Socket): string {
  if (anyProxied) {
    // A TLS socket (HTTPS, and HTTP/2 through its session) wraps the raw socket the header was read from.
    const named = proxiedClients.get(socket) ?? proxiedClients.get((socket as { _parent?: object })._parent ?? socket)
    if (named !== undefined) return named
  }
  return clientAddress(socket.remoteAddress)
}
