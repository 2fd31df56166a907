/**
 * `location` blocks -> Fulcrum locations, with their action: `return` (respond or redirect) wins over
 * `proxy_pass`, as nginx's rewrite phase runs before the content handler. Settings are inherited as nginx
 * inherits them (settings.ts) and written out on each location, so each reads as nginx would apply it.
 */
import type { GroupSettings, Groups } from './groups.ts'
import type { Report } from './problems.ts'
import type { Protection } from './protection.ts'
import { inherit, readLevel } from './settings.ts'
import type { Level } from './settings.ts'
import type { Directive } from './syntax.ts'
import type { Upstream } from './upstream.ts'
import { compiles, isIpAddress, joinHostPort, parseHostPort } from './values.ts'

export interface Scope {
  valid(d: Directive): boolean
  report: Report
  formats: ReadonlyMap<string, string>
  /** By lower-cased name: nginx compares upstream names without case. */
  upstreams: ReadonlyMap<string, Upstream>
  groups: Groups
  /** Host names to resolve, as nginx does at start ("host not found in upstream"). */
  hostnames: Map<string, Directive[]>
  /** The port of the listener being built, for absolute redirects. */
  port: number
  /** Config path (formatted) -> the directive it came from, for messages about the generated config. */
  origins: Map<string, Directive>
  /** Rate and connection limits, head and body limits, the real IP. */
  protection: Protection
}

type Selector = { kind: 'exact' | 'prefix' | 'noregex' | 'regex' | 'named'; path: string; text: string }
type Out = Record<string, unknown>

/** nginx defaults for what Fulcrum keeps per group. */
export const GROUP_DEFAULTS: GroupSettings = {
  on: ['error', 'timeout'], nonIdempotent: false, retry: true, tries: 0, retryTimeout: 0, connect: 60_000, read: 60_000,
}

/** The locations of a server or location block. `at` is the config path of the list, for origins. */
export function readLocations(block: readonly Directive[], outer: Level, own: Level, parent: Selector | undefined, scope: Scope, at: string): Out[] {
  const out: Out[] = []
  const seen = new Map<string, Directive>()
  for (const d of block) {
    if (d.name !== 'location' || !scope.valid(d)) continue
    const selector = readSelector(d, scope.report)
    if (selector === undefined) continue
    if (selector.kind === 'named') {
      scope.report.fulcrum(d, `named location "${selector.path}" is not supported (it serves only try_files and error_page, which Fulcrum does not have)`)
      continue
    }
    if (parent !== undefined && !checkNesting(d, selector, parent, scope.report)) continue
    if (selector.kind !== 'regex') {
      const key = `${selector.kind === 'exact' ? '=' : ''}${selector.path}`
      const first = seen.get(key)
      if (first !== undefined) {
        scope.report.nginx(d, `duplicate location "${selector.path}" (first on line ${first.line})`)
        continue
      }
      seen.set(key, d)
    } else if (!compiles(selector.path, selector.text.startsWith('~* '))) {
      scope.report.fulcrum(d, `the regular expression "${selector.path}" does not compile in JavaScript, which Fulcrum uses; rewrite it (PCRE's (?P<name>…) is (?<name>…))`)
      continue
    }
    const path = `${at}[${out.length}]`
    scope.origins.set(path, d)
    const body = d.block ?? []
    const ownLevel = readLevel(body, scope.valid, scope.report, scope.formats)
    const level = inherit(outer, ownLevel)
    // What locations set (here or in the locations around this one), written on the location.
    const locationLevel = inherit(own, ownLevel)
    const location: Out = { location: selector.text }
    if (ownLevel.accessLogs !== undefined) {
      // access_log off leaves the location's requests out (its nested locations too, unless they log);
      // another file is not kept apart: the requests go to the listener's log.
      const off = ownLevel.accessLogs.every((l) => l === 'off')
      location.accessLog = !off
      const same = (a: typeof ownLevel.accessLogs[number], b: typeof ownLevel.accessLogs[number]): boolean =>
        a === 'off' || b === 'off' ? a === b : a.path === b.path && a.format === b.format
      const served = ownLevel.accessLogs.every((l) => l === 'off' || outer.accessLogs?.some((o) => same(l, o)) === true)
      if (!served) {
        const at = body.find((c) => c.name === 'access_log') ?? d
        scope.report.warn(at, `access_log in location "${selector.path}": Fulcrum keeps one access log per listener (the server's), and this location's requests are written there`)
      }
    }
    const acted = readAction(body, selector, level, scope, location)
    if (level.addHeaders !== undefined && level.addHeaders.length > 0) location.addHeaders = level.addHeaders
    // allow/deny run after return in nginx (access phase after rewrite phase): a location that returns ignores
    // them, also those of the levels around it, which an empty list overrides.
    if (acted === 'return') {
      if (level.access !== undefined && level.access.length > 0) location.access = []
    } else if (locationLevel.access !== undefined) location.access = locationLevel.access
    if (locationLevel.maxBody !== undefined) location.maxBodyBytes = locationLevel.maxBody
    const returned = acted === 'return' ? body.find((c) => c.name === 'return' && scope.valid(c)) : undefined
    scope.protection.location(location, d, selector.path, level, locationLevel, ownLevel, returned)
    const nested = readLocations(body, level, locationLevel, selector, scope, `${path}.locations`)
    if (nested.length > 0) location.locations = nested
    if (acted === undefined) {
      if (nested.length === 0) {
        scope.report.fulcrum(d, `location "${selector.path}" has no proxy_pass or return: nginx would serve files from its root; Fulcrum does not serve files`)
      } else {
        scope.report.warn(d, `location "${selector.path}" has no proxy_pass or return: a request no nested location takes gets 404 (nginx would look for a file)`)
      }
    }
    out.push(location)
  }
  return out
}

/** Sets the location's action from `return` or `proxy_pass`; says which, or undefined for none. */
export function readAction(body: readonly Directive[], selector: Selector | undefined, level: Level, scope: Scope, into: Out): 'return' | 'proxy' | undefined {
  const ret = body.find((d) => d.name === 'return' && scope.valid(d))
  if (ret !== undefined) {
    readReturn(ret, level, scope, into)
    return 'return'
  }
  const pass = body.find((d) => d.name === 'proxy_pass' && scope.valid(d))
  if (pass === undefined) return undefined
  readProxyPass(pass, selector, level, scope, into)
  return 'proxy'
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** nginx's return: CODE [TEXT], CODE URL for 301/302/303/307/308, or URL alone (302). */
function readReturn(d: Directive, level: Level, scope: Scope, into: Out): void {
  const [first, second] = d.args
  let status: number
  let text: string | undefined
  if (/^\d+$/.test(first)) {
    status = Number(first)
    text = second
    if (status > 999) {
      scope.report.nginx(d, `invalid return code "${first}"; write a status such as 200, 301 or 404`)
      return
    }
  } else if (d.args.length === 1 && /^(https?:\/\/|\$scheme)/.test(first)) {
    status = 302
    text = first
  } else {
    scope.report.nginx(d, `invalid return code "${first}"; write return CODE [TEXT], return 301 URL, or return URL (starting with http://, https:// or $scheme)`)
    return
  }
  if (status === 444) {
    scope.report.fulcrum(d, 'return 444 (close the connection without an answer) is not supported yet')
    return
  }
  if (status < 100 || status > 599) {
    scope.report.fulcrum(d, `return ${status}: Fulcrum answers statuses from 100 to 599 only`)
    return
  }
  if (REDIRECTS.has(status) && text !== undefined) {
    into.redirect = { location: absolute(text, scope.port), status }
    return
  }
  const respond: Out = { status }
  if (text !== undefined) respond.body = text
  respond.contentType = level.defaultType ?? 'text/plain'
  into.respond = respond
}

/** nginx sends relative redirects as absolute ones (absolute_redirect on): scheme, Host, and the port unless 80. */
function absolute(location: string, port: number): string {
  if (!location.startsWith('/')) return location
  return `http://$host${port === 80 ? '' : port === 0 ? ':$server_port' : `:${port}`}${location}`
}

function readProxyPass(d: Directive, selector: Selector | undefined, level: Level, scope: Scope, into: Out): void {
  const url = d.args[0]
  if (url.includes('$')) {
    scope.report.fulcrum(d, 'proxy_pass with variables is not supported; name an upstream or host:port')
    return
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)
  if (scheme === null) {
    scope.report.nginx(d, `proxy_pass needs a scheme: write http://${url}`)
    return
  }
  const https = scheme[1].toLowerCase() === 'https'
  if (!https && scheme[1].toLowerCase() !== 'http') {
    scope.report.nginx(d, `invalid URL prefix "${scheme[0]}" in proxy_pass; write http://…`)
    return
  }
  const rest = url.slice(scheme[0].length)
  const slash = rest.indexOf('/')
  const authority = slash < 0 ? rest : rest.slice(0, slash)
  const uri = slash < 0 ? undefined : rest.slice(slash)
  if (authority.startsWith('unix:')) {
    scope.report.fulcrum(d, 'proxy_pass to a UNIX-domain socket is not supported yet; use host:port')
    return
  }
  if (uri !== undefined && (selector === undefined || selector.kind === 'regex')) {
    scope.report.nginx(d, '"proxy_pass" cannot have a URI part in a location given by a regular expression; remove the URI part (the request URI is passed as it is)')
    return
  }
  const settings: GroupSettings = { ...groupSettings(level), ...(https ? { https: { verify: level.sslVerify === true } } : {}) }
  const colon = authority.lastIndexOf(':')
  const name = colon > authority.lastIndexOf(']') && colon >= 0 ? authority.slice(0, colon) : authority
  const upstream = scope.upstreams.get(name.toLowerCase())
  let group: string
  let proxyHost: string
  if (upstream !== undefined) {
    if (name !== authority) {
      scope.report.nginx(d, `upstream "${upstream.name}" may not have a port in proxy_pass; write http://${upstream.name}${uri ?? ''}`)
      return
    }
    group = scope.groups.forUpstream(upstream, settings)
    proxyHost = upstream.name
  } else {
    const parsed = parseHostPort(authority, https ? 443 : 80, false)
    if (parsed === undefined || parsed.host === undefined) {
      scope.report.nginx(d, `invalid host "${authority}" in proxy_pass; write http://UPSTREAM or http://HOST:PORT`)
      return
    }
    if (!isIpAddress(parsed.host)) {
      const list = scope.hostnames.get(parsed.host) ?? []
      list.push(d)
      scope.hostnames.set(parsed.host, list)
    }
    const address = joinHostPort(parsed.host, parsed.port)
    group = scope.groups.forAddress(address, settings, d)
    proxyHost = parsed.port === (https ? 443 : 80) ? (parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host) : address
  }
  into.forward = group
  const proxy: Out = {}
  proxy.host = proxyHost
  proxy.setHeaders = setHeaders(level)
  proxy.httpVersion = level.httpVersion ?? '1.0'
  if (level.passRequestHeaders === false) proxy.passRequestHeaders = false
  if (uri !== undefined && selector !== undefined) proxy.replacePrefix = { prefix: selector.path, with: uri }
  into.proxy = proxy
}

/**
 * proxy_set_header as written. Present even when empty: it switches the location to nginx's header rules
 * (Host $proxy_host unless set, nothing else added; see the schema's proxy.setHeaders).
 */
function setHeaders(level: Level): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const { name, value } of level.setHeaders ?? []) headers[name] = value
  return headers
}

export function groupSettings(level: Level): GroupSettings {
  const next = level.nextUpstream
  return {
    on: next === undefined ? GROUP_DEFAULTS.on : next.on,
    nonIdempotent: next?.nonIdempotent ?? false,
    retry: next === undefined ? true : !next.off,
    tries: level.tries ?? 0,
    retryTimeout: level.retryTimeout ?? 0,
    connect: level.connect ?? GROUP_DEFAULTS.connect,
    read: level.read ?? GROUP_DEFAULTS.read,
  }
}

/** `location [= | ^~ | ~ | ~*] URI` and the glued forms nginx also takes (`=/x`, `~\.php$`). */
function readSelector(d: Directive, report: Report): Selector | undefined {
  let [modifier, path] = d.args
  if (path === undefined) {
    const glued = /^(=|\^~|~\*|~|@)?(.*)$/s.exec(modifier) as RegExpExecArray
    if (glued[1] === '@') return { kind: 'named', path: modifier, text: modifier }
    modifier = glued[1] ?? ''
    path = glued[2]
  }
  if (path === '') {
    report.nginx(d, `location "${d.args.join(' ')}" has no URI; write location ${modifier === '' ? '' : `${modifier} `}/path { … }`)
    return undefined
  }
  switch (modifier) {
    case '': return { kind: 'prefix', path, text: path }
    case '=': return { kind: 'exact', path, text: `= ${path}` }
    case '^~': return { kind: 'noregex', path, text: `^~ ${path}` }
    case '~': return { kind: 'regex', path, text: `~ ${path}` }
    case '~*': return { kind: 'regex', path, text: `~* ${path}` }
    default:
      report.nginx(d, `invalid location modifier "${modifier}"; use =, ^~, ~ or ~*`)
      return undefined
  }
}

/** nginx's rules for a location inside another. */
function checkNesting(d: Directive, child: Selector, parent: Selector, report: Report): boolean {
  if (parent.kind === 'exact') {
    report.nginx(d, `location "${child.path}" cannot be inside the exact location "${parent.path}"`)
    return false
  }
  if (child.kind !== 'regex' && !child.path.startsWith(parent.path)) {
    report.nginx(d, `location "${child.path}" is outside location "${parent.path}"; a nested prefix must start with "${parent.path}"`)
    return false
  }
  return true
}
