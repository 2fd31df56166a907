/**
 * The balancer's own answers: errors (one function maps a failure to a status, a short plain body, never a
 * hang), fixed responses and redirects. `ProxyResponse` is node's ServerResponse with a slot for the
 * exchange, so shared event handlers need no closure per request.
 */
import { ServerResponse, STATUS_CODES, type IncomingMessage } from 'node:http'
import type { ProxyExchange } from './proxy.ts'

export class ProxyResponse extends ServerResponse {
  exchange: ProxyExchange | undefined = undefined
}

/**
 * How a route's own answers look beyond plain text: nginx's HTML pages and reason phrases, and the route's
 * addHeaders. Undefined for routes without extras.
 */
export interface AnswerStyle {
  readonly nginxPages: boolean
  /** Appends the route's response headers (addHeaders) that apply to `status`. */
  decorate(status: number, headers: string[]): void
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
 * nginx's pages (ngx_http_special_response.c), checked byte for byte against nginx 1.22.1 with
 * `server_tokens off`; the signature line says "fulcrum" where nginx says "nginx". [status line reason,
 * page title] where they differ from node's STATUS_CODES.
 */
const NGINX_TEXT: Readonly<Record<number, readonly [reason: string, title: string]>> = {
  301: ['Moved Permanently', 'Moved Permanently'],
  302: ['Moved Temporarily', 'Found'],
  303: ['See Other', 'See Other'],
  307: ['Temporary Redirect', 'Temporary Redirect'],
  308: ['Permanent Redirect', 'Permanent Redirect'],
  400: ['Bad Request', 'Bad Request'],
  401: ['Unauthorized', 'Authorization Required'],
  402: ['Payment Required', 'Payment Required'],
  403: ['Forbidden', 'Forbidden'],
  404: ['Not Found', 'Not Found'],
  405: ['Not Allowed', 'Not Allowed'],
  406: ['Not Acceptable', 'Not Acceptable'],
  409: ['Conflict', 'Conflict'],
  410: ['Gone', 'Gone'],
  411: ['Length Required', 'Length Required'],
  412: ['Precondition Failed', 'Precondition Failed'],
  413: ['Request Entity Too Large', 'Request Entity Too Large'],
  414: ['Request-URI Too Large', 'Request-URI Too Large'],
  415: ['Unsupported Media Type', 'Unsupported Media Type'],
  416: ['Requested Range Not Satisfiable', 'Requested Range Not Satisfiable'],
  421: ['Misdirected Request', 'Misdirected Request'],
  429: ['Too Many Requests', 'Too Many Requests'],
  500: ['Internal Server Error', 'Internal Server Error'],
  501: ['Not Implemented', 'Not Implemented'],
  502: ['Bad Gateway', 'Bad Gateway'],
  503: ['Service Temporarily Unavailable', 'Service Temporarily Unavailable'],
  504: ['Gateway Time-out', 'Gateway Time-out'],
  505: ['HTTP Version Not Supported', 'HTTP Version Not Supported'],
  507: ['Insufficient Storage', 'Insufficient Storage'],
}

/** nginx closes the connection after these answers (ngx_http_special_response_handler). */
const NGINX_CLOSES: ReadonlySet<number> = new Set([400, 413, 414, 500, 501])

const NGINX_PAGES = new Map<number, Buffer>()

/** nginx's HTML page for a status, or undefined when nginx has none (then the answer has no body). */
export function nginxPage(status: number): Buffer | undefined {
  let page = NGINX_PAGES.get(status)
  if (page === undefined) {
    const text = NGINX_TEXT[status]
    if (text === undefined) return undefined
    const title = `${status} ${text[1]}`
    page = Buffer.from(`<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n`
      + '<hr><center>fulcrum</center>\r\n</body>\r\n</html>\r\n', 'latin1')
    NGINX_PAGES.set(status, page)
  }
  return page
}

/** nginx's reason phrase for a status ("Moved Temporarily" for 302), else node's. */
export function nginxReason(status: number): string | undefined {
  return NGINX_TEXT[status]?.[0] ?? STATUS_CODES[status]
}

/**
 * Writes a status with nginx's page (or no body when nginx has none), `headers` first (e.g. Location).
 * Returns the body bytes written.
 */
export function sendNginxPage(res: ServerResponse, status: number, headers: string[], style: AnswerStyle | undefined): number {
  const page = nginxPage(status)
  if (page !== undefined) headers.push('content-type', 'text/html', 'content-length', String(page.length))
  else headers.push('content-length', '0')
  style?.decorate(status, headers)
  if (NGINX_CLOSES.has(status)) closeAfter(res)
  res.writeHead(status, nginxReason(status), headers)
  if (page === undefined || res.req.method === 'HEAD') {
    res.end()
    return 0
  }
  res.end(page)
  return page.length
}

/**
 * Returns the body bytes written.
 * 502 a target failed, 503 no target could take the request, 504 a target timed out, 404 no route,
 * 403 denied by access rules, 413 body too large (the connection is closed after it, as nginx does).
 * If the client is gone or headers already left, there is nothing to say: close.
 */
/** Connections answered with a refusal that closes them: nothing that follows on them is served. */
const closing = new WeakSet<object>()

/** This answer is the connection's last; requests already read behind it (pipelined) are dropped. */
export function closeAfter(res: ServerResponse): void {
  res.shouldKeepAlive = false
  // HTTP/1.1 only: an HTTP/2 stream's refusal ends that stream, and the session's other streams go on.
  if (res.req?.socket != null && !('stream' in res.req)) closing.add(res.req.socket)
}

/** Whether a request arrived on a connection that a refusal is closing (it must not be served). */
export function onClosingConnection(req: IncomingMessage): boolean {
  return closing.has(req.socket)
}

/** Statuses after which the connection is closed: what came with the request cannot be trusted to end where it says. */
const CLOSES: ReadonlySet<number> = new Set([400, 408, 413, 414, 431, 501])

export function sendError(res: ServerResponse, status: number, requestId: string | undefined, style?: AnswerStyle,
  extraHeaders?: readonly string[]): number {
  if (res.headersSent || res.destroyed) {
    res.destroy()
    return 0
  }
  if (style?.nginxPages === true) {
    const headers: string[] = extraHeaders === undefined ? [] : [...extraHeaders]
    if (requestId !== undefined) headers.push('x-request-id', requestId)
    return sendNginxPage(res, status, headers, style)
  }
  const body = errorBody(status)
  const headers: string[] = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length)]
  if (requestId !== undefined) headers.push('x-request-id', requestId)
  if (extraHeaders !== undefined) headers.push(...extraHeaders)
  style?.decorate(status, headers)
  if (CLOSES.has(status)) closeAfter(res)
  res.writeHead(status, headers)
  if (res.req.method === 'HEAD') {
    res.end()
    return 0
  }
  res.end(body)
  return body.length
}
