/**
 * What the Balancer asks of every kind of listener (HTTP, stream, datagram): bind, take a new
 * generation's model, and drain. A listener keeps its socket across reloads; `update` only swaps what new
 * connections (or datagrams) are served with.
 */
import type { Server as NetServer } from 'node:net'
import type { AnyListenerModel } from '../model/build.ts'

export interface Listener {
  readonly model: AnyListenerModel
  /** The bound port (useful when the config asked for port 0). */
  readonly port: number
  /** `reusePort`: SO_REUSEPORT, so worker processes share the port. */
  listen(options?: { reusePort?: boolean }): Promise<void>
  /** A model of the same kind and key (the Balancer matches listeners by key, which includes the kind). */
  update(model: AnyListenerModel): void
  /** Stop taking new clients; let open ones finish within `drainTimeout`; resolve when all are closed. */
  close(drainTimeout: number): Promise<void>
}

/** The error a listener that cannot bind reports: which listener, where, and the likely cause. */
export function listenError(model: Pick<AnyListenerModel, 'name' | 'host' | 'port'>, err: NodeJS.ErrnoException, transport = ''): Error {
  const where = `${model.host ?? '*'}:${model.port}${transport}`
  return new Error(`listener ${model.name} cannot listen on ${where}: ${err.code === 'EADDRINUSE'
    ? 'the address is already in use (another process, or another listener of this config)'
    : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.message}`, { cause: err })
}

/**
 * Binds a TCP server for a listener. `reusePort` (SO_REUSEPORT) lets every worker process bind the same
 * port and the kernel spread the connections between them; with one process it stays off, so a port in
 * use is an error.
 */
export function listenTcp(server: NetServer, model: Pick<AnyListenerModel, 'name' | 'host' | 'port'>, reusePort: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(listenError(model, err))
    server.once('error', onError)
    server.listen({ host: model.host, port: model.port, backlog: 4096, reusePort }, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/** The port a server is bound to, or the configured one before it is. */
export function boundPort(server: NetServer, configured: number): number {
  const a = server.address()
  return typeof a === 'object' && a !== null ? a.port : configured
}

export function wrongKind(model: AnyListenerModel, expected: string): Error {
  return new Error(`listener ${model.name}: a ${model.kind} model given to a ${expected} listener`)
}
