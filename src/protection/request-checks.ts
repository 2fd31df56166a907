/**
 * What a request head must pass before routing, past what Node's HTTP parser already refuses (both
 * Content-Length and Transfer-Encoding, duplicate or listed Content-Length, obs-fold, bytes not allowed in
 * names or values, bare LF: all 400 with the connection closed). Here: the listener's size limits, and the
 * framing Node lets through but a target could read differently, so that what reaches a target is always
 * one unambiguous request.
 */
import type { IncomingMessage } from 'node:http'

export interface HeadLimits {
  readonly maxUriBytes: number
  readonly maxHeaders: number
}

/** The status to refuse the request with, or 0 when it may go on. Refused requests close their connection. */
export function requestProblem(req: IncomingMessage, limits: HeadLimits): number {
  // A request line with another version than 1.0 or 1.1 ("HTTP/2.0" over HTTP/1.1, "HTTP/0.9"): 505, as nginx.
  if (req.httpVersionMajor !== 1 && !('stream' in req)) return 505
  let url = req.url as string
  if (url.length > limits.maxUriBytes) return 414
  if (url.charCodeAt(0) !== 47 /* / */) {
    // "*" (OPTIONS *) and anything but an absolute URL: 400, as nginx. An absolute URL (absolute-form,
    // RFC 9112 §3.2.2) names the host itself: it becomes origin-form with that Host, as nginx does.
    if (!toOriginForm(req)) return 400
    url = req.url as string
  }
  const raw = req.rawHeaders
  if (raw.length > limits.maxHeaders * 2) return 431
  let hosts = 0
  for (let i = 0; i < raw.length; i += 2) {
    // Only the two names that matter are looked at closely; most names differ in length already.
    const name = raw[i]
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++
  }
  // RFC 9112 §3.2: more than one Host is a 400 (nginx: "client sent duplicate host header").
  if (hosts > 1) return 400
  const te = req.headers['transfer-encoding']
  if (te !== undefined) {
    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1) return 400
    // Only chunked alone can be passed on as it is meant (nginx answers 501 to any other coding too).
    if (te.trim().toLowerCase() !== 'chunked') return 501
  }
  return 0
}

/** "http://host:port/path?q" -> url "/path?q" and Host "host:port" (raw headers too); false when not such a URL. */
function toOriginForm(req: IncomingMessage): boolean {
  const url = req.url as string
  if (!/^https?:\/\/[^/?#]/i.test(url)) return false
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  if (parsed.username !== '' || parsed.password !== '') return false
  const host = parsed.host
  req.url = `${parsed.pathname}${parsed.search}`
  req.headers.host = host
  const raw = req.rawHeaders
  let found = false
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') {
      raw[i + 1] = host
      found = true
    }
  }
  if (!found) raw.push('Host', host)
  return true
}
