/**
 * nginx-style templates: text with variables ($host, ${http_x_user}, …) used by respond bodies, redirect
 * locations, proxy.setHeaders, addHeaders and hash keys. A template is compiled once, when the model is
 * built, into literal parts and variable getters; one without variables is a constant and evaluating it
 * costs nothing. Variable names are case-insensitive, as in nginx. A "$" not followed by a letter, "_" or
 * "{" is literal text.
 */
import { normalizeUri, targetArgs } from '../router/uri.ts'

/** What a template may read. Optional fields have nginx's fallback when absent (see each variable). */
export interface TemplateSource {
  readonly method: string
  /** The request target as sent. */
  readonly url: string
  /** The client's address, without port. */
  readonly clientIp: string
  /** Lower-case names, as node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly remotePort?: number | undefined
  /** The listener's port. */
  readonly serverPort?: string
  /** The virtual host's first name ('' for none). */
  readonly serverName?: string
  readonly scheme?: string
  /** The upstream as written in proxy_pass, or the target group's name. */
  readonly proxyHost?: string
  /** The normalised path (`normalizeUri`); derived from `url` when absent. */
  readonly uri?: string | undefined
  readonly httpVersion?: string
}

export type Getter = (s: TemplateSource) => string

export interface Template {
  readonly text: string
  /** The value when the template has no variables. */
  readonly constant: string | undefined
  readonly parts: ReadonlyArray<string | Getter>
}

function header(s: TemplateSource, name: string): string {
  const v = s.headers[name]
  return v === undefined ? '' : typeof v === 'string' ? v : v.join(name === 'cookie' ? '; ' : ', ')
}

/** $host: the Host without port and trailing dot, lower-case; else the server name. */
export function hostVariable(s: TemplateSource): string {
  const raw = header(s, 'host')
  if (raw === '') return s.serverName ?? ''
  let end = raw.length
  if (raw.charCodeAt(0) === 91 /* [ */) end = raw.indexOf(']') + 1 || raw.length
  else {
    const colon = raw.indexOf(':')
    if (colon !== -1) end = colon
  }
  if (end > 0 && raw.charCodeAt(end - 1) === 46 /* . */) end--
  return raw.slice(0, end).toLowerCase()
}

/** The value of cookie `name` (case-insensitive, as nginx), '' when absent. Quotes are kept, as nginx. */
export function cookieValue(headerValue: string, name: string): string {
  let at = 0
  const n = name.length
  while (at < headerValue.length) {
    while (headerValue.charCodeAt(at) === 32 || headerValue.charCodeAt(at) === 9) at++
    let end = headerValue.indexOf(';', at)
    if (end === -1) end = headerValue.length
    if (headerValue.charCodeAt(at + n) === 61 /* = */ && headerValue.slice(at, at + n).toLowerCase() === name) {
      let stop = end
      while (stop > at + n + 1 && (headerValue.charCodeAt(stop - 1) === 32 || headerValue.charCodeAt(stop - 1) === 9)) stop--
      return headerValue.slice(at + n + 1, stop)
    }
    at = end + 1
  }
  return ''
}

/** The value of query argument `name` (case-insensitive, as nginx), raw (not decoded); '' when absent. */
export function argValue(args: string, name: string): string {
  let at = 0
  const n = name.length
  while (at <= args.length) {
    let end = args.indexOf('&', at)
    if (end === -1) end = args.length
    if (args.charCodeAt(at + n) === 61 /* = */ && args.slice(at, at + n).toLowerCase() === name) return args.slice(at + n + 1, end)
    at = end + 1
  }
  return ''
}

function uriOf(s: TemplateSource): string {
  if (s.uri !== undefined) return s.uri
  const q = s.url.indexOf('?')
  return normalizeUri(s.url) ?? (q === -1 ? s.url : s.url.slice(0, q))
}

/** The variables with a fixed name; $http_*, $cookie_*, $arg_* are made by `variable`. */
const FIXED: Readonly<Record<string, Getter>> = {
  host: hostVariable,
  http_host: (s) => header(s, 'host'),
  remote_addr: (s) => s.clientIp,
  remote_port: (s) => (s.remotePort === undefined ? '' : String(s.remotePort)),
  scheme: (s) => s.scheme ?? 'http',
  server_port: (s) => s.serverPort ?? '',
  server_name: (s) => s.serverName ?? '',
  server_protocol: (s) => `HTTP/${s.httpVersion ?? '1.1'}`,
  request_uri: (s) => s.url,
  uri: uriOf,
  document_uri: uriOf,
  args: (s) => targetArgs(s.url),
  query_string: (s) => targetArgs(s.url),
  // nginx: "?" when the request has arguments, so a bare trailing "?" gives "".
  is_args: (s) => (targetArgs(s.url) !== '' ? '?' : ''),
  request_method: (s) => s.method,
  content_length: (s) => header(s, 'content-length'),
  content_type: (s) => header(s, 'content-type'),
  proxy_host: (s) => s.proxyHost ?? '',
  proxy_add_x_forwarded_for: (s) => {
    const xff = header(s, 'x-forwarded-for')
    return xff === '' ? s.clientIp : `${xff}, ${s.clientIp}`
  },
}

/** Every variable name a template may use, for messages. */
export const VARIABLE_NAMES: readonly string[] = [...Object.keys(FIXED), 'http_NAME', 'cookie_NAME', 'arg_NAME']

/** The getter for a variable name (lower-case), or undefined when Fulcrum does not know it. */
export function variable(name: string): Getter | undefined {
  if (Object.hasOwn(FIXED, name)) return FIXED[name]
  if (name.startsWith('http_') && name.length > 5) {
    const h = name.slice(5).replaceAll('_', '-')
    return (s) => header(s, h)
  }
  if (name.startsWith('cookie_') && name.length > 7) {
    const c = name.slice(7)
    return (s) => cookieValue(header(s, 'cookie'), c)
  }
  if (name.startsWith('arg_') && name.length > 4) {
    const a = name.slice(4)
    return (s) => argValue(targetArgs(s.url), a)
  }
  return undefined
}

function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95
}

/** The variables a template names (as written), and problems ("${" without "}"). */
export function scanTemplate(text: string): { names: Array<{ name: string; at: number }>; problems: string[] } {
  const names: Array<{ name: string; at: number }> = []
  const problems: string[] = []
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 36 /* $ */) continue
    const next = text.charCodeAt(i + 1)
    if (next === 123 /* { */) {
      const close = text.indexOf('}', i + 2)
      if (close === -1) { problems.push(`"\${" at position ${i + 1} has no closing "}"`); break }
      names.push({ name: text.slice(i + 2, close), at: i })
      i = close
      continue
    }
    // "$" then a digit or nothing of a name: literal (nginx regex captures $1…$9 are not supported).
    if (!isNameChar(next) || (next >= 48 && next <= 57)) continue
    let end = i + 1
    while (end < text.length && isNameChar(text.charCodeAt(end))) end++
    names.push({ name: text.slice(i + 1, end), at: i })
    i = end - 1
  }
  return { names, problems }
}

/** Problems with a template, for validation: unknown variables (named), unclosed "${". */
export function templateProblems(text: string): string[] {
  const { names, problems } = scanTemplate(text)
  for (const { name, at } of names) {
    if (name === '') problems.push(`"\${}" at position ${at + 1} names no variable`)
    else if (variable(name.toLowerCase()) === undefined) {
      problems.push(`unknown variable "$${name}"; known: ${VARIABLE_NAMES.map((n) => `$${n}`).join(', ')}`)
    }
  }
  return problems
}

/** Compiles a template; throws on what `templateProblems` reports (validation runs first). */
export function compileTemplate(text: string): Template {
  const { names, problems } = scanTemplate(text)
  if (problems.length > 0) throw new Error(`template "${text}": ${problems[0]}`)
  if (names.length === 0) return { text, constant: text, parts: [text] }
  const parts: Array<string | Getter> = []
  let at = 0
  for (const { name, at: start } of names) {
    if (start > at) parts.push(text.slice(at, start))
    const getter = variable(name.toLowerCase())
    if (getter === undefined) throw new Error(`template "${text}": unknown variable "$${name}"`)
    parts.push(getter)
    at = start + (text.charCodeAt(start + 1) === 123 ? name.length + 3 : name.length + 1)
  }
  if (at < text.length) parts.push(text.slice(at))
  return { text, constant: undefined, parts }
}

export function evaluate(t: Template, s: TemplateSource): string {
  if (t.constant !== undefined) return t.constant
  const parts = t.parts
  let out = ''
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]
    out += typeof p === 'string' ? p : p(s)
  }
  return out
}
