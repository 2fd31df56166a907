/**
 * What an HTTP listener checks of every request before routing it: the head (size limits and framing,
 * request-checks.ts), who the client is (PROXY header, trusted proxies), and the listener's connection
 * limits, counted as nginx's limit_conn counts: requests being processed, per client address and in all.
 * Also the body timeout, which holds while the body is being read.
 */
import type { IncomingMessage } from 'node:http'
import type { ListenerModel } from '../model/build.ts'
import { ConnectionCounter } from '../protection/connection-counter.ts'
import { requestProblem } from '../protection/request-checks.ts'
import { sendError, type AnswerStyle, type ProxyResponse } from '../upstream/response.ts'
import type { ForwardingOptions } from '../upstream/request-headers.ts'
import { socketClient } from './client-address.ts'
import { isHttp2 } from './tls.ts'

export interface Admitted {
  /** The client: the connection's peer, the PROXY header's source, or from X-Forwarded-For of a trusted peer. */
  readonly clientIp: string
  /** The forwarding options for this request (the listener's, or adjusted for X-Forwarded-For handling). */
  readonly forwarding: ForwardingOptions
}

/** nginx's pages for refusals made before any route (and its addHeaders) is known. */
const NGINX_STYLE: AnswerStyle = { nginxPages: true, decorate: () => {} }

function forwardedFor(req: IncomingMessage): string | undefined {
  const raw = req.headers['x-forwarded-for']
  return Array.isArray(raw) ? raw.join(', ') : raw
}

/** The client of a request that is not admitted through the guard (an Upgrade): peer, PROXY source or trusted X-Forwarded-For. */
export function clientOf(req: IncomingMessage, model: ListenerModel): string {
  const peer = socketClient(req.socket)
  return model.trust === undefined ? peer : model.trust.client(peer, forwardedFor(req))
}

export class RequestGuard {
  /** Requests being processed, per client address and in all, for the connection limits. */
  readonly #requests = new ConnectionCounter()

  /**
   * Admits a request, or answers it (400, 414, 431, 501, or the connection limits' status) and returns
   * undefined. `forwarding` is the listener's, with its bound port.
   */
  admit(req: IncomingMessage, res: ProxyResponse, model: ListenerModel, forwarding: ForwardingOptions): Admitted | undefined {
    const config = model.config
    const problem = requestProblem(req, config.limits)
    if (problem !== 0) {
      sendError(res, problem, undefined, config.errorPages === 'nginx' ? NGINX_STYLE : undefined)
      return undefined
    }
    const peer = socketClient(req.socket)
    let clientIp = peer
    let own = forwarding
    if (model.trust !== undefined) {
      const xff = forwardedFor(req)
      clientIp = model.trust.client(peer, xff)
      // X-Forwarded-For gets the peer appended (the hop we saw); the client goes to X-Real-IP.
      if (clientIp !== peer || xff !== undefined) {
        own = { ...forwarding, hop: peer, replaceForwardedFor: config.replaceForwardedFor && !model.trust.trusts(peer) }
      }
    } else if (config.replaceForwardedFor && req.headers['x-forwarded-for'] !== undefined) {
      own = { ...forwarding, replaceForwardedFor: true }
    }
    const limits = config.connectionLimits
    if (limits !== undefined) {
      const release = this.#requests.enter(clientIp, limits.perClient, limits.total)
      if (release === undefined) {
        sendError(res, limits.status, undefined, config.errorPages === 'nginx' ? NGINX_STYLE : undefined)
        return undefined
      }
      res.once('close', release)
    }
    this.#watchBody(req, res, config.limits.bodyTimeout)
    return { clientIp, forwarding: own }
  }

  /**
   * nginx client_body_timeout: the longest pause between two reads of the body. Node's socket timer sees
   * reads and writes; a body paused by backpressure (the target is slow to take it) is not the client's
   * fault, so the timer only counts while the body is flowing.
   */
  #watchBody(req: IncomingMessage, res: ProxyResponse, timeout: number): void {
    if (timeout <= 0 || req.complete) return
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0'
    if (!hasBody) return
    if (isHttp2(req)) {
      // An HTTP/2 stream has its own timer (the connection carries other streams).
      const stream = req as unknown as { setTimeout(ms: number, cb?: () => void): void }
      stream.setTimeout(timeout, () => {
        if (req.complete) return
        if (!res.headersSent) sendError(res, 408, undefined)
        req.destroy()
      })
      req.once('end', () => stream.setTimeout(0))
      return
    }
    const socket = req.socket
    // On the request, not the socket: Node's server destroys a socket that times out unless the request
    // (or response, or server) has a 'timeout' listener, which would lose the 408.
    const onTimeout = (): void => {
      if (req.complete) return
      if (req.readableFlowing === false || req.readableLength > 0) {
        socket.setTimeout(timeout)
        return
      }
      if (res.headersSent) {
        socket.destroy()
        return
      }
      // The 408 goes out first; the connection closes once it is written (or soon, if the client does not read).
      sendError(res, 408, undefined)
      res.once('finish', () => socket.destroy())
      setTimeout(() => socket.destroy(), 1_000).unref()
    }
    req.setTimeout(timeout, onTimeout)
    req.once('end', () => {
      req.off('timeout', onTimeout)
      socket.setTimeout(0)
    })
  }

  /** The route's own body timeout replaces the listener's for this request. */
  static setBodyTimeout(req: IncomingMessage, timeout: number): void {
    if (req.complete) return
    if (isHttp2(req)) (req as unknown as { setTimeout(ms: number): void }).setTimeout(timeout)
    else req.socket.setTimeout(timeout)
  }
}
