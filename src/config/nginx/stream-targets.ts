/**
 * What a stream server's `proxy_pass` names: a stream upstream (read as http upstreams are: same syntax;
 * nginx keeps the two namespaces apart), a HOST:PORT, or `$var` from a map on $ssl_preread_server_name,
 * nginx's way to pass TLS through by SNI name:
 * `map $ssl_preread_server_name $name { hostnames; a.example.com backend_a; default backend_c; }`.
 * Each becomes a target group (groups.ts), or for the map, SNI routes and a default forward. Fulcrum picks
 * an L4 group by exact or leading-wildcard SNI name only, so other map sources and regexes are reported.
 */
import type { GroupSettings, Groups } from './groups.ts'
import type { Report } from './problems.ts'
import type { Directive } from './syntax.ts'
import { readUpstream } from './upstream.ts'
import type { Upstream } from './upstream.ts'
import { isIpAddress, joinHostPort, parseHostPort } from './values.ts'

export const SNI_SOURCE = '$ssl_preread_server_name'

export interface StreamScope {
  valid(d: Directive): boolean
  report: Report
  /** Shared with http, so that both kinds of group land in one targetGroups. */
  groups: Groups
  hostnames: Map<string, Directive[]>
  origins: Map<string, Directive>
  /** Lower-cased names of the http upstreams: a stream upstream of the same name needs another group name. */
  httpUpstreams: ReadonlySet<string>
}

export interface StreamMap {
  source: string
  at: Directive
  hostnames: boolean
  entries: { key: string; value: string; at: Directive }[]
  default?: { value: string; at: Directive }
}

export type SniRoute = { names: { name: string; at: Directive }[]; forward: string; at: Directive }
export type Target =
  | { kind: 'group'; forward: string; at: Directive }
  | { kind: 'sni'; routes: SniRoute[]; forward?: string; forwardAt?: Directive; map: StreamMap; at: Directive }

type StreamUpstream = { upstream: Upstream; group: Upstream }

/** Hash keys that are the client's address, all an L4 listener knows of the client. */
const CLIENT_ADDRESS = new Set(['$remote_addr', '$binary_remote_addr'])

export class StreamTargets {
  readonly #scope: StreamScope
  /** By lower-cased name: nginx compares upstream names without case. */
  readonly #upstreams = new Map<string, StreamUpstream>()
  /** By the variable they define, lower-cased ("$name"). */
  readonly #maps = new Map<string, StreamMap>()
  readonly #used = new Set<StreamUpstream>()

  constructor(stream: readonly Directive[], scope: StreamScope) {
    this.#scope = scope
    for (const d of stream) {
      if (d.block === undefined || !scope.valid(d)) continue
      if (d.name === 'upstream') this.#readUpstream(d)
      if (d.name === 'map') this.#readMap(d)
    }
  }

  get upstreamNames(): string[] {
    return [...this.#upstreams.values()].map((u) => u.upstream.name)
  }

  /** Upstreams no server uses still become groups, as in http (Fulcrum warns they are unused). */
  addUnused(settings: GroupSettings): void {
    for (const u of this.#upstreams.values()) if (!this.#used.has(u)) this.#scope.groups.forUpstream(u.group, settings)
  }

  /** The target of a server's proxy_pass; undefined (reported) when there is none Fulcrum can serve. */
  read(server: Directive, settings: GroupSettings): Target | undefined {
    const { valid, report } = this.#scope
    const body = server.block ?? []
    const other = body.find((d) => (d.name === 'return' || d.name === 'pass') && valid(d))
    if (other !== undefined) {
      report.fulcrum(other, `"${other.name}" in stream is not supported: Fulcrum's L4 listeners relay connections to target groups; use proxy_pass`)
      return undefined
    }
    const pass = body.find((d) => d.name === 'proxy_pass' && valid(d))
    if (pass === undefined) {
      report.nginx(server, `no handler for server in ${server.file}:${server.line}; add proxy_pass UPSTREAM; or proxy_pass HOST:PORT;`)
      return undefined
    }
    const value = pass.args[0]
    const variable = /^\$(\w+)$|^\$\{(\w+)\}$/.exec(value)
    if (variable === null && !value.includes('$')) {
      const forward = this.#forward(value, pass, settings)
      return forward === undefined ? undefined : { kind: 'group', forward, at: pass }
    }
    const map = variable === null ? undefined : this.#maps.get(`$${(variable[1] ?? variable[2]).toLowerCase()}`)
    if (map === undefined || map.source !== SNI_SOURCE) {
      const why = map === undefined ? '' : ` The map on line ${map.at.line} chooses by ${map.source}.`
      report.fulcrum(pass, `proxy_pass ${value}: variables are supported only from a map on ${SNI_SOURCE} (TLS passthrough by SNI name).${why} Name an upstream or HOST:PORT`)
      return undefined
    }
    const target: Target = { kind: 'sni', routes: [], map, at: pass }
    for (const route of this.#sniRoutes(map)) {
      const forward = this.#forward(route.value, route.at, settings)
      if (forward !== undefined) target.routes.push({ names: route.names, forward, at: route.at })
    }
    if (map.default !== undefined) {
      target.forward = this.#forward(map.default.value, map.default.at, settings)
      target.forwardAt = map.default.at
    }
    return target
  }

  /** An upstream's group, or one made for HOST:PORT; undefined (reported) when neither. */
  #forward(value: string, d: Directive, settings: GroupSettings): string | undefined {
    const { report, groups, hostnames, httpUpstreams } = this.#scope
    const named = this.#upstreams.get(value.toLowerCase())
    if (named !== undefined) {
      this.#used.add(named)
      return groups.forUpstream(named.group, settings)
    }
    if (value.includes('$')) {
      report.fulcrum(d, `"${value}" has variables; Fulcrum needs an upstream name or HOST:PORT here`)
      return undefined
    }
    if (value.startsWith('unix:')) {
      report.fulcrum(d, `"${value}": UNIX-domain sockets are not supported yet; use HOST:PORT`)
      return undefined
    }
    const parsed = parseHostPort(value, 0, false)
    if (parsed === undefined || parsed.host === undefined) {
      report.nginx(d, `invalid address "${value}"; write an upstream name or HOST:PORT`)
      return undefined
    }
    if (this.#upstreams.has(parsed.host.toLowerCase()) && parsed.explicitPort) {
      report.nginx(d, `upstream "${parsed.host}" may not have port ${parsed.port}; write ${parsed.host}`)
      return undefined
    }
    if (!parsed.explicitPort) {
      const http = httpUpstreams.has(value.toLowerCase()) ? ` (upstream ${value} is in http; stream has upstreams of its own)` : ''
      report.nginx(d, `no port in upstream "${value}"${http}; define upstream ${value} { server HOST:PORT; } in stream, or write HOST:PORT`)
      return undefined
    }
    if (!isIpAddress(parsed.host)) hostnames.set(parsed.host, [...(hostnames.get(parsed.host) ?? []), d])
    return groups.forAddress(joinHostPort(parsed.host, parsed.port), settings, d)
  }

  #readUpstream(d: Directive): void {
    const { valid, report, hostnames, httpUpstreams } = this.#scope
    for (const s of d.block ?? []) {
      if (s.name !== 'server' || !valid(s) || s.args[0].startsWith('unix:')) continue
      if (parseHostPort(s.args[0], 0, false)?.explicitPort === false) report.nginx(s, `no port in upstream "${s.args[0]}"; write HOST:PORT such as 10.0.0.1:5432`)
    }
    const upstream = readUpstream(d, valid, report)
    const key = upstream.name.toLowerCase()
    const first = this.#upstreams.get(key)
    if (first !== undefined) {
      report.nginx(d, `duplicate upstream "${upstream.name}" (first on line ${first.upstream.directive.line})`)
      return
    }
    for (const server of upstream.servers) {
      if (!isIpAddress(server.host)) hostnames.set(server.host, [...(hostnames.get(server.host) ?? []), server.directive])
    }
    let hashKey = upstream.hashKey
    if (upstream.algorithm === 'hash' && hashKey !== undefined) {
      if (CLIENT_ADDRESS.has(hashKey)) hashKey = 'client-ip'
      else report.fulcrum(upstream.methodAt ?? d, `hash ${hashKey}: an L4 listener knows only the client's address; hash $remote_addr (consistent) instead`)
    }
    let name = upstream.name
    if (httpUpstreams.has(key)) {
      name = `${upstream.name}-stream`
      for (let n = 2; httpUpstreams.has(name.toLowerCase()) || this.#upstreams.has(name.toLowerCase()); n++) name = `${upstream.name}-stream${n}`
      report.warn(d, `upstream "${upstream.name}" is also an http upstream; nginx keeps the two apart, so this one's target group is named "${name}"`)
    }
    this.#upstreams.set(key, { upstream, group: { ...upstream, name, hashKey } })
  }

  /** A map's entries are "value result;" pairs, not directives: the structural check skipped them. */
  #readMap(d: Directive): void {
    const { report } = this.#scope
    const [source, variable] = d.args
    if (!/^\$\w+$/.test(variable)) {
      report.nginx(d, `invalid variable name "${variable}" in "map"; write map ${source} $name { … }`)
      return
    }
    const first = this.#maps.get(variable.toLowerCase())
    if (first !== undefined) {
      report.nginx(d, `duplicate variable "${variable}" (its map is on line ${first.at.line})`)
      return
    }
    const map: StreamMap = { source, at: d, hostnames: false, entries: [] }
    const seen = new Set<string>()
    for (const entry of d.block ?? []) {
      if ((entry.name === 'hostnames' || entry.name === 'volatile') && entry.args.length === 0 && entry.block === undefined) {
        if (entry.name === 'hostnames') map.hostnames = true
      } else if (entry.args.length !== 1 || entry.block !== undefined) {
        report.nginx(entry, 'invalid number of the map parameters; write VALUE RESULT;')
      } else if (entry.name === 'default') {
        if (map.default !== undefined) report.nginx(entry, `duplicate default map parameter (first on line ${map.default.at.line})`)
        else map.default = { value: entry.args[0], at: entry }
      } else {
        // Strings match ignoring case; "\default" is how a map matches the string "default".
        const key = (entry.name.startsWith('\\') ? entry.name.slice(1) : entry.name).toLowerCase()
        if (seen.has(key)) report.nginx(entry, `conflicting parameter "${entry.name}"`)
        else map.entries.push({ key, value: entry.args[0], at: entry })
        seen.add(key)
      }
    }
    this.#maps.set(variable.toLowerCase(), map)
  }

  /**
   * A map's routes, one per distinct result in the order first written. Names become Fulcrum SNI names:
   * exact, `*.example.org`, and `.example.org` as both example.org and *.example.org (nginx's hostnames
   * forms, ranked as Fulcrum ranks them: exact, then the longest wildcard).
   */
  #sniRoutes(map: StreamMap): { names: SniRoute['names']; value: string; at: Directive }[] {
    const { report } = this.#scope
    const byValue = new Map<string, { names: SniRoute['names']; value: string; at: Directive }>()
    const names = new Set<string>()
    for (const { key, value, at } of map.entries) {
      let forms = [key]
      if (key.startsWith('~')) {
        report.fulcrum(at, `map entry "${key}" is a regular expression; Fulcrum chooses by exact SNI names and leading wildcards (*.example.com) only, so list the names`)
        continue
      } else if (key === '') {
        // nginx gives a connection without SNI the "" entry; Fulcrum gives it the default.
        if (value !== map.default?.value) report.fulcrum(at, 'map entry "": Fulcrum sends connections without an SNI name to the default; give "" the default\'s value, or remove it')
        continue
      } else if (!map.hostnames && /^\*?\.|\.\*$/.test(key)) {
        report.warn(at, `map entry "${key}" is compared literally (the map has no "hostnames;"), so it matches no SNI name and is left out; add hostnames; to the map to make it a wildcard`)
        continue
      } else if (key.endsWith('.*')) {
        report.fulcrum(at, `map entry "${key}": trailing wildcards are not supported for SNI names; list the names, or use a leading wildcard (*.example.com)`)
        continue
      } else if (key.startsWith('.')) forms = [key.slice(1), `*${key}`]
      for (const form of forms) {
        if (names.has(form)) {
          report.nginx(at, `conflicting parameter "${key}"`)
          continue
        }
        names.add(form)
        const route = byValue.get(value) ?? { names: [], value, at }
        route.names.push({ name: form, at })
        byValue.set(value, route)
      }
    }
    return [...byValue.values()]
  }
}
