/**
 * What a forwarded request carries to its target besides the body: the header list, the X-Request-Id it
 * echoes, and the path. A route with nginx proxy options (setHeaders, replacePrefix) shapes them as nginx
 * would; otherwise the client's head plus Fulcrum's forwarding headers.
 */
import type { IncomingMessage } from 'node:http'
import type { RequestScope } from '../model/route-extras.ts'
import { replacePrefix } from '../router/uri.ts'
import { buildNginxUpstreamHeaders, buildUpstreamHeaders, type ForwardingOptions, type HeaderFacts } from './request-headers.ts'

export interface UpstreamHead {
  readonly headers: string[]
  /** Echoed on the response; undefined when request ids are off or the route speaks nginx. */
  readonly requestId: string | undefined
  readonly path: string
}

/** `facts` receives the request id the header builder kept or made. */
export function upstreamHead(req: IncomingMessage, clientIp: string, forwarding: ForwardingOptions, scope: RequestScope | undefined,
  facts: HeaderFacts): UpstreamHead {
  const proxy = scope?.extras.proxy
  const url = req.url as string
  if (proxy === undefined || scope === undefined) {
    const headers = buildUpstreamHeaders(req.rawHeaders, clientIp, forwarding, facts)
    return { headers, requestId: forwarding.requestId ? facts.requestId : undefined, path: url }
  }
  const rp = proxy.replacePrefix
  const path = rp === undefined ? url : replacePrefix(url, scope.uri, rp.prefix, rp.with)
  // With setHeaders the route speaks nginx: only what it sets, no forwarding headers, no request id.
  if (proxy.setHeaders !== undefined) {
    return { headers: buildNginxUpstreamHeaders(req.rawHeaders, proxy, scope, req.headers['content-length']), requestId: undefined, path }
  }
  const headers = buildUpstreamHeaders(req.rawHeaders, clientIp, forwarding, facts)
  return { headers, requestId: forwarding.requestId ? facts.requestId : undefined, path }
}
