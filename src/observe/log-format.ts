/**
 * Access log lines: nginx's `combined` format byte for byte, a JSON object per line, or a template with
 * nginx variables. A format is compiled once (on start and reload) into a list of literal parts and
 * getters, so a request costs the getters and one concatenation.
 */
import type { RequestRecord } from './observer.ts'

/** Formats one finished request; `wall` is Date.now() when it ended. The line ends with "\n". */
export type LineFormat = (record: RequestRecord, endedAt: number, wall: number) => string

type Getter = (r: RequestRecord, endedAt: number, wall: number) => string

export const COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'

/** The status a log shows: nginx's 499 when the client closed the connection before the response was complete. */
export function logStatus(r: RequestRecord): number {
  return r.clientAborted ? 499 : r.res.statusCode
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3)

/** Variables that can never hold a byte nginx escapes, so their values skip the escaping check. */
const PLAIN = new Set(['status', 'body_bytes_sent', 'request_time', 'upstream_response_time', 'upstream_header_time',
  'time_local', 'time_iso8601', 'msec', 'server_port', 'retries', 'route', 'pid'])

const VARIABLES: Readonly<Record<string, Getter>> = {
  remote_addr: (r) => r.clientIp,
  remote_user: (r) => basicUser(r.req.headers.authorization),
  time_local: (_r, _e, wall) => timeLocal(wall),
  time_iso8601: (_r, _e, wall) => timeIso8601(wall),
  msec: (_r, _e, wall) => (wall / 1000).toFixed(3),
  request: (r) => `${r.req.method} ${r.req.url} HTTP/${r.req.httpVersion}`,
  request_method: (r) => r.req.method ?? '',
  request_uri: (r) => r.req.url ?? '',
  uri: (r) => pathOf(r.req.url ?? ''),
  args: (r) => argsOf(r.req.url ?? ''),
  query_string: (r) => argsOf(r.req.url ?? ''),
  server_protocol: (r) => `HTTP/${r.req.httpVersion}`,
  scheme: () => 'http',
  host: (r) => hostOf(r.req.headers.host),
  server_port: (r) => String(r.req.socket.localPort ?? ''),
  status: (r) => String(logStatus(r)),
  body_bytes_sent: (r) => String(r.bytesSent),
  request_time: (r, endedAt) => seconds(endedAt - r.startedAt),
  upstream_addr: (r) => r.upstream ?? '',
  upstream_response_time: (r) => (r.upstreamMs < 0 ? '' : seconds(r.upstreamMs)),
  upstream_header_time: (r) => (r.upstreamHeaderMs < 0 ? '' : seconds(r.upstreamHeaderMs)),
  request_id: (r) => r.requestId,
  pid: () => String(process.pid),
  // Fulcrum's own: which listener, route and target group took the request, and how many retries it took.
  listener: (r) => r.listener,
  route: (r) => (r.route < 0 ? '' : String(r.route)),
  target_group: (r) => r.targetGroup ?? '',
  retries: (r) => String(r.retries),
}

/** The variables a template may use, for messages. `$http_NAME` reads any request header. */
export const KNOWN_VARIABLES: readonly string[] = [...Object.keys(VARIABLES), 'http_NAME']

/** Compiles `combined`, `json` or a template. Unknown variables are problems and print as "-". */
export function compileFormat(format: string): { format: LineFormat; problems: string[] } {
  if (format === 'json') return { format: jsonLine, problems: [] }
  return compileTemplateLine(format === 'combined' ? COMBINED : format, getter)
}

/** A getter of one variable's text from a record R, the end time and the wall clock. */
export type VariableGetter<R> = (r: R, endedAt: number, wall: number) => string

/**
 * A log template with nginx variables ($name or ${name}) compiled into literal parts and getters, ending
 * in "\n". `lookup` gives a variable's getter, or records a problem and returns one that prints "-".
 */
export function compileTemplateLine<R>(template: string, lookup: (name: string, problems: string[]) => VariableGetter<R>):
  { format: (r: R, endedAt: number, wall: number) => string; problems: string[] } {
  const problems: string[] = []
  const parts: Array<string | VariableGetter<R>> = []
  // nginx variable names are letters, digits and "_"; ${name} separates one from a following letter.
  const re = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g
  let last = 0
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    if (m.index > last) parts.push(template.slice(last, m.index))
    last = re.lastIndex
    parts.push(lookup((m[1] ?? m[2]).toLowerCase(), problems))
  }
  if (last < template.length) parts.push(template.slice(last))
  parts.push('\n')
  if (parts.every((p) => typeof p === 'string')) {
    const text = parts.join('')
    return { format: () => text, problems }
  }
  return {
    format: (r, endedAt, wall) => {
      let line = ''
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]
        line += typeof p === 'string' ? p : p(r, endedAt, wall)
      }
      return line
    },
    problems,
  }
}

function getter(name: string, problems: string[]): Getter {
  let get: Getter | undefined = VARIABLES[name]
  if (get === undefined && name.startsWith('http_') && name.length > 5) {
    const header = name.slice(5).replaceAll('_', '-')
    get = (r) => headerValue(r.req.headers[header])
  }
  if (get === undefined) {
    problems.push(`unknown variable $${name} (known: ${KNOWN_VARIABLES.map((v) => `$${v}`).join(', ')})`)
    return () => '-'
  }
  const g = get
  // As nginx: an empty value prints "-", and every variable is escaped (unless it cannot need it).
  if (PLAIN.has(name)) return (r, e, w) => g(r, e, w) || '-'
  return (r, e, w) => escapeLog(g(r, e, w)) || '-'
}

function jsonLine(r: RequestRecord, endedAt: number, wall: number): string {
  const h = r.req.headers
  return `${JSON.stringify({
    time: new Date(wall).toISOString(),
    request_id: r.requestId || null,
    client: r.clientIp,
    method: r.req.method,
    uri: r.req.url,
    protocol: `HTTP/${r.req.httpVersion}`,
    status: logStatus(r),
    bytes: r.bytesSent,
    duration_ms: Math.round((endedAt - r.startedAt) * 1000) / 1000,
    upstream: r.upstream ?? null,
    upstream_ms: r.upstreamMs < 0 ? null : Math.round(r.upstreamMs * 1000) / 1000,
    retries: r.retries,
    route: r.route < 0 ? null : r.route,
    target_group: r.targetGroup ?? null,
    listener: r.listener,
    user_agent: h['user-agent'] ?? null,
    referer: h.referer ?? null,
  })}\n`
}

// nginx's default `escape`: '"', '\' and bytes below 0x20 or above 0x7e become \xHH. Node hands header
// values and the request line over as latin1, one character per byte, so a char code is the byte.
const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f-\uffff]/
const HEX = '0123456789ABCDEF'

export function escapeLog(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s
  let out = ''
  for (const ch of s) {
    const code = ch.codePointAt(0) as number
    if (code >= 0x20 && code < 0x7f && code !== 0x22 && code !== 0x5c) { out += ch; continue }
    const bytes = code <= 0xff ? [code] : Buffer.from(ch, 'utf8')
    for (const b of bytes) out += `\\x${HEX[b >> 4]}${HEX[b & 15]}`
  }
  return out
}

function headerValue(v: string | string[] | undefined): string {
  if (v === undefined) return ''
  return typeof v === 'string' ? v : v.join(', ')
}

/** The user of `Authorization: Basic …`, as nginx's $remote_user; '' when absent or not decodable. */
function basicUser(auth: string | undefined): string {
  if (auth === undefined || auth.length < 7 || auth.slice(0, 6).toLowerCase() !== 'basic ') return ''
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('latin1')
  const colon = decoded.indexOf(':')
  return colon < 0 ? '' : decoded.slice(0, colon)
}

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

function argsOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? '' : url.slice(q + 1)
}

function hostOf(host: string | undefined): string {
  if (host === undefined) return ''
  const h = host.toLowerCase()
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1)
  const colon = h.indexOf(':')
  return colon < 0 ? h : h.slice(0, colon)
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const two = (n: number): string => (n < 10 ? `0${n}` : String(n))

/** Minutes east of UTC as nginx prints them: +0000, -0530. */
function offset(d: Date, colon: boolean): string {
  const east = -d.getTimezoneOffset()
  const a = Math.abs(east)
  return `${east < 0 ? '-' : '+'}${two(Math.floor(a / 60))}${colon ? ':' : ''}${two(a % 60)}`
}

// Both times change once a second; a busy log formats them once per second, not once per line.
let localSecond = -1
let localText = ''
/** nginx's $time_local: 21/Nov/2026:23:49:57 +0000, in the machine's time zone. */
export function timeLocal(wall: number): string {
  const second = Math.floor(wall / 1000)
  if (second !== localSecond) {
    const d = new Date(second * 1000)
    localText = `${two(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${offset(d, false)}`
    localSecond = second
  }
  return localText
}

let isoSecond = -1
let isoText = ''
/** nginx's $time_iso8601: 2026-11-21T23:49:57+00:00, in the machine's time zone. */
export function timeIso8601(wall: number): string {
  const second = Math.floor(wall / 1000)
  if (second !== isoSecond) {
    const d = new Date(second * 1000)
    isoText = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}${offset(d, true)}`
    isoSecond = second
  }
  return isoText
}
