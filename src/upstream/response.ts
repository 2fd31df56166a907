/**
 * The balancer's own answers: errors (one function maps a failure to a status, a short plain body, never a
 * hang), fixed responses and redirects. `ProxyResponse` is node's ServerResponse with a slot for the
 * exchange, so shared event handlers need no closure per request.
 */
import { ServerResponse, STATUS_CODES } from 'node:http'
import type { ProxyExchange } from './proxy.ts'

export class ProxyResponse extends ServerResponse {
  exchange: ProxyExchange | undefined = undefined
}

const ERROR_BODIES = new Map<number, Buffer>()
function errorBody(status: number): Buffer {
  let body = ERROR_BODIES.get(status)
  if (body === undefined) {
    body = Buffer.from(`${status} ${STATUS_CODES[status] ?? 'Error'}\n`)
    ERROR_BODIES.set(status, body)
  }
  return body
}

/**
 * Returns the body bytes written.
 * 502 a target failed, 503 no target could take the request, 504 a target timed out, 404 no route.
 * If the client is gone or headers already left, there is nothing to say: close.
 */
export function sendError(res: ServerResponse, status: number, requestId: string | undefined): number {
  if (res.headersSent || res.destroyed) {
    res.destroy()
    return 0
  }
  const body = errorBody(status)
  const headers: string[] = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length)]
  if (requestId !== undefined) headers.push('x-request-id', requestId)
  res.writeHead(status, headers)
  if (res.req.method === 'HEAD') {
    res.end()
    return 0
  }
  res.end(body)
  return body.length
}
