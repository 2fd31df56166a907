/**
 * Route matching: request facts -> the first route whose every condition holds. Pure. Conditions are
 * compiled once per reload (lower-cased hosts, compiled regexes, method sets); a request's host and path
 * are cut out of the raw values only when some route asks for them.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { RouteMatchConfig } from '../config/schema.ts'

/** The facts a route may test. */
export interface RouteRequest {
  readonly method: string
  /** The request target as sent: path and query. */
  readonly url: string
  readonly headers: IncomingHttpHeaders
}

interface HostPattern {
  /** Exact name, or the suffix after "*" (".example.com"), or the prefix before ".*" ("www.example."). */
  readonly text: string
  readonly kind: 'exact' | 'suffix' | 'prefix'
}

export interface CompiledMatch {
  readonly host: HostPattern | undefined
  readonly path: string | undefined
  readonly pathExact: string | undefined
  readonly pathRegex: RegExp | undefined
  readonly methods: ReadonlySet<string> | undefined
  readonly headers: ReadonlyArray<readonly [name: string, value: string]> | undefined
}

export function compileMatch(m: RouteMatchConfig): CompiledMatch {
  let host: HostPattern | undefined
  if (m.host !== undefined) {
    const h = m.host.toLowerCase()
    if (h.startsWith('*.')) host = { text: h.slice(1), kind: 'suffix' }
    else if (h.endsWith('.*')) host = { text: h.slice(0, -1), kind: 'prefix' }
    else host = { text: h, kind: 'exact' }
  }
  const methods = m.method === undefined ? undefined
    : new Set((Array.isArray(m.method) ? m.method : [m.method]).map((x) => x.toUpperCase()))
  const headers = m.headers === undefined ? undefined
    : Object.entries(m.headers).map(([k, v]) => [k.toLowerCase(), v] as const)
  return {
    host, methods, headers,
    path: m.path, pathExact: m.pathExact,
    pathRegex: m.pathRegex === undefined ? undefined : new RegExp(m.pathRegex),
  }
}

/** The host a request names, lower-cased and without port. */
export function requestHost(headers: IncomingHttpHeaders): string {
  const raw = headers.host
  if (raw === undefined) return ''
  let end = raw.length
  if (raw.charCodeAt(0) === 91 /* [ */) {
    end = raw.indexOf(']') + 1 || raw.length
  } else {
    const colon = raw.lastIndexOf(':')
    if (colon !== -1) end = colon
  }
  return raw.slice(0, end).toLowerCase()
}

export function requestPath(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

function hostMatches(p: HostPattern, host: string): boolean {
  switch (p.kind) {
    case 'exact': return host === p.text
    case 'suffix': return host.length > p.text.length && host.endsWith(p.text)
    case 'prefix': return host.length > p.text.length && host.startsWith(p.text)
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

export function matches(m: CompiledMatch, req: RouteRequest, host: string, path: string): boolean {
  if (m.methods !== undefined && !m.methods.has(req.method)) return false
  if (m.host !== undefined && !hostMatches(m.host, host)) return false
  if (m.pathExact !== undefined && path !== m.pathExact) return false
  if (m.path !== undefined && !path.startsWith(m.path)) return false
  if (m.pathRegex !== undefined && !m.pathRegex.test(path)) return false
  if (m.headers !== undefined) {
    for (const [name, want] of m.headers) {
      const got = headerValue(req.headers, name)
      if (got === undefined || (want !== '*' && got !== want)) return false
    }
  }
  return true
}

/** An ordered route table. `T` is whatever the caller attaches to a route (its action). */
export class Router<T> {
  readonly #routes: ReadonlyArray<{ match: CompiledMatch; value: T }>
  readonly #needsHost: boolean
  readonly #needsPath: boolean

  constructor(routes: ReadonlyArray<{ match: RouteMatchConfig; value: T }>) {
    this.#routes = routes.map((r) => ({ match: compileMatch(r.match), value: r.value }))
    this.#needsHost = this.#routes.some((r) => r.match.host !== undefined)
    this.#needsPath = this.#routes.some((r) => r.match.path !== undefined || r.match.pathExact !== undefined
      || r.match.pathRegex !== undefined)
  }

  /** The first matching route's value, or undefined (the listener answers 404). */
  match(req: RouteRequest): T | undefined {
    const routes = this.#routes
    // The usual single catch-all route costs nothing.
    if (routes.length === 1 && !this.#needsHost && !this.#needsPath && routes[0].match.methods === undefined
      && routes[0].match.headers === undefined) return routes[0].value
    const host = this.#needsHost ? requestHost(req.headers) : ''
    const path = this.#needsPath ? requestPath(req.url) : ''
    for (let i = 0; i < routes.length; i++) {
      if (matches(routes[i].match, req, host, path)) return routes[i].value
    }
    return undefined
  }
}
