/**
 * The TLS side of an https listener: the server (HTTP/1.1 only, or HTTP/2 by ALPN with HTTP/1.1 as the
 * fallback), certificates looked up by SNI in the listener's current model, and the adapters that let an
 * HTTP/2 request go through the same path as an HTTP/1.1 one.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server } from 'node:http'
import type { HttpListenerConfig } from '../config/schema.ts'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2'
import type { SecureContext } from 'node:tls'
import type { ListenerModel } from '../model/build.ts'
import type { CertificateTable } from '../model/tls.ts'
import { ProxyResponse } from '../upstream/response.ts'

export type TlsServer = HttpsServer<typeof IncomingMessage, typeof ProxyResponse> | Http2SecureServer

export function createTlsServer(model: ListenerModel, current: () => CertificateTable): TlsServer {
  const table = model.certificates as CertificateTable
  const options = {
    ...table.defaultOptions,
    // The model is read on every handshake, so a reload's certificates serve new connections at once.
    SNICallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, current().select(servername)),
  }
  if (model.config.http2) {
    return createSecureServer({ ...options, allowHTTP1: true, Http1ServerResponse: ProxyResponse } as Parameters<typeof createSecureServer>[0])
  }
  return createHttpsServer({
    ...options,
    ServerResponse: ProxyResponse,
    headersTimeout: model.config.limits.headerTimeout,
    keepAliveTimeout: model.config.limits.keepAliveTimeout,
    // Node keeps an idle connection 1 s past keepAliveTimeout by default; nginx closes it on time.
    keepAliveTimeoutBuffer: 0,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, model.config.limits.headerTimeout / 4)),
  })
}

/**
 * A request that came over an HTTP/2 stream (not one whose request line merely says "HTTP/2.0", which an
 * HTTP/1.1 parser reads as version 2 too).
 */
export function isHttp2(req: IncomingMessage | Http2ServerRequest): req is Http2ServerRequest {
  return 'stream' in req
}

/** Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2); an h2 response carrying one would throw. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

/**
 * Makes an HTTP/2 request look like an HTTP/1.1 one to the proxy: `:authority` becomes Host, pseudo-headers
 * are not forwarded, and a body without Content-Length is marked as streamed (chunked towards the target).
 */
export function adaptH2(req: Http2ServerRequest, res: Http2ServerResponse): void {
  const raw = req.rawHeaders
  const rawHeaders: string[] = []
  let host: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    if (name === ':authority') host ??= raw[i + 1]
    else if (name[0] !== ':') {
      if (name === 'host') host = raw[i + 1]
      else rawHeaders.push(name, raw[i + 1])
    }
  }
  if (host !== undefined) rawHeaders.unshift('host', host)
  const headers: IncomingHttpHeaders = {}
  for (const [k, v] of Object.entries(req.headers)) if (k[0] !== ':') headers[k] = v
  if (host !== undefined) headers.host = host
  if (!req.stream.endAfterHeaders && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked'
  Object.defineProperty(req, 'rawHeaders', { value: rawHeaders })
  Object.defineProperty(req, 'headers', { value: headers })

  const writeHead = res.writeHead
  Object.defineProperty(res, 'writeHead', {
    value(status: number, headers?: readonly string[] | OutgoingHttpHeaders) {
      const out: OutgoingHttpHeaders = {}
      if (Array.isArray(headers)) {
        for (let i = 0; i < headers.length; i += 2) {
          const name = String(headers[i]).toLowerCase()
          if (CONNECTION_SPECIFIC.has(name)) continue
          const prev = out[name]
          const value = String(headers[i + 1])
          out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value]
        }
      } else if (headers !== undefined) {
        for (const [k, v] of Object.entries(headers)) if (!CONNECTION_SPECIFIC.has(k.toLowerCase())) out[k] = v
      }
      return (writeHead as (s: number, h: OutgoingHttpHeaders) => Http2ServerResponse).call(res, status, out)
    },
  })
  // HTTP/1.1 keep-alive has no meaning on a stream; the listener sets it when stopping.
  Object.defineProperty(res, 'shouldKeepAlive', { set() {}, get() { return false } })
}

/**
 * The listener's head limits and timeouts on its server, at start and on every reload. HTTP/1.1: Node
 * answers 431 past maxHeaderSize itself, and keeps only maxHeadersCount fields, so one more than the
 * limit is kept for the guard to see that there were too many. HTTP/2: the header list size is a
 * SETTINGS value, and an idle session (no stream for keepAliveTimeout) is closed.
 */
export function applyClientLimits(server: Server<typeof IncomingMessage, typeof ProxyResponse> | TlsServer, limits: HttpListenerConfig['limits']): void {
  if ('headersTimeout' in server) {
    server.headersTimeout = limits.headerTimeout
    server.keepAliveTimeout = limits.keepAliveTimeout
    server.maxHeadersCount = limits.maxHeaders + 1
    ;(server as { maxHeaderSize?: number }).maxHeaderSize = limits.maxHeaderBytes
    return
  }
  server.updateSettings({ maxHeaderListSize: limits.maxHeaderBytes })
  server.setTimeout(limits.keepAliveTimeout)
}
