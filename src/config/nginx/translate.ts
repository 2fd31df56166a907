/**
 * An nginx configuration tree -> Fulcrum's configuration input (what a YAML file would hold). One listener
 * per listen address, with one virtual host per server block on it (the default_server, else the first,
 * takes unmatched names), and target groups from upstreams (groups.ts). Listeners add no headers nginx
 * would not send (forwardedHeaders and requestId off) and answer their own errors with nginx's pages.
 * Rate and connection limits, head and body limits and the real IP come from protection.ts. The stream
 * block's L4 listeners follow the http ones (stream.ts).
 */
import { formatPath } from '../problem.ts'
import type { Checked } from './check.ts'
import { UNSUPPORTED } from './directives.ts'
import { duration, Groups } from './groups.ts'
import { groupSettings, readAction, readLocations } from './locations.ts'
import type { Scope } from './locations.ts'
import { Report } from './problems.ts'
import { Protection } from './protection.ts'
import { COMBINED, inherit, readLevel, readLogFormats } from './settings.ts'
import type { AccessLog, Level } from './settings.ts'
import { translateStream } from './stream.ts'
import type { Directive } from './syntax.ts'
import { checkTls, readServerTls } from './tls.ts'
import type { ServerTls } from './tls.ts'
import { readUpstream } from './upstream.ts'
import type { Upstream } from './upstream.ts'
import { compiles, isIpAddress, joinHostPort, parseHostPort } from './values.ts'

type Out = Record<string, unknown>

export interface Translation {
  input: Out
  report: Report
  /** Formatted config path -> the directive it came from. */
  origins: Map<string, Directive>
  /** Host names nginx would resolve at start, with the directives naming them. */
  hostnames: Map<string, Directive[]>
  /** The upstreams' names, for "did you mean" when a name does not resolve. */
  upstreamNames: string[]
}

/** nginx's client_max_body_size default. */
const MAX_BODY_DEFAULT = 1024 * 1024

type Listen = { key: string; host: string | undefined; port: number; default: boolean; ssl: boolean; http2: boolean; proxyProtocol: boolean; at: Directive }
type Server = { block: Directive; listens: Listen[]; names: string[]; level: Level; tls: ServerTls }

export function translate(tree: readonly Directive[], checked: Checked, mainFile: string): Translation {
  const report = new Report()
  const origins = new Map<string, Directive>()
  const hostnames = new Map<string, Directive[]>()
  const valid = (d: Directive) => checked.valid.has(d)
  const input: Out = {}

  for (const d of tree) {
    if (!valid(d)) continue
    if (d.name === 'worker_processes') {
      if (d.args[0] === 'auto') input.workers = 'auto'
      else if (/^\d+$/.test(d.args[0]) && Number(d.args[0]) >= 1) input.workers = Math.min(Number(d.args[0]), 256)
      else report.nginx(d, `invalid value "${d.args[0]}" in "worker_processes"; write a number or auto`)
      if (input.workers !== undefined) origins.set('workers', d)
    }
  }
  if (!tree.some((d) => d.name === 'events')) {
    report.problems.push({ file: mainFile, line: 0, message: 'no "events" section in configuration; add events {} at the top level (nginx requires it)', tier: 'nginx' })
  }
  const http = tree.find((d) => d.name === 'http' && valid(d))
  const body = http?.block ?? []
  // Every upstream, misplaced ones too, so that one mistake is not reported again at each proxy_pass.
  const upstreams = new Map<string, Upstream>()
  for (const d of everyUpstream(body)) {
    // A misplaced block was reported already; read it quietly so proxy_pass finds its name.
    const upstream = valid(d) ? readUpstream(d, valid, report) : readUpstream(d, () => true, new Report())
    const key = upstream.name.toLowerCase()
    const first = upstreams.get(key)
    if (first !== undefined) report.nginx(d, `duplicate upstream "${upstream.name}" (first on line ${first.directive.line})`)
    else upstreams.set(key, upstream)
    if (!valid(d)) continue
    for (const server of upstream.servers) {
      if (isIpAddress(server.host)) continue
      hostnames.set(server.host, [...(hostnames.get(server.host) ?? []), server.directive])
    }
  }
  const formats = readLogFormats(body, valid, report)
  const groups = new Groups(upstreams)
  const httpLevel = readLevel(body, valid, report, formats)
  const protection = new Protection(body, httpLevel, valid, report)
  const scope: Scope = { valid, report, formats, upstreams, groups, hostnames, port: 80, origins, protection }

  const serverBlocks = body.filter((d) => d.name === 'server' && d.block !== undefined && valid(d))
  checkTls(body, serverBlocks, valid, report, mainFile)
  const servers = serverBlocks.map((d) => readServer(d, httpLevel, scope, readServerTls(body, d, valid, report)))
  const listeners = groupListeners(servers, report)
  const httpListeners = [...listeners.entries()].map(([key, list], i) => buildListener(key, list, httpLevel, scope, `listeners[${i}]`))
  // The map block is accepted in http so that stream can have one (directives.ts); http has no use for it.
  for (const d of body) if (d.name === 'map' && valid(d)) report.fulcrum(d, `"map" is not supported: ${UNSUPPORTED.map}`)
  const streamBlock = tree.find((d) => d.name === 'stream' && d.block !== undefined && valid(d))
  const httpUpstreams = new Set(upstreams.keys())
  const stream = streamBlock === undefined ? undefined
    : translateStream(streamBlock, { valid, report, groups, hostnames, origins, httpUpstreams }, httpListeners.length)
  input.listeners = [...httpListeners, ...(stream?.listeners ?? [])]
  if (servers.length === 0 && http !== undefined && stream === undefined) report.fulcrum(http, 'the http block has no server blocks, so there is nothing to serve; add server { listen PORT; location / { … } }')
  if (streamBlock !== undefined && servers.length === 0 && !streamBlock.block?.some((d) => d.name === 'server')) {
    report.fulcrum(streamBlock, 'the stream block has no server blocks, so there is nothing to serve; add server { listen PORT; proxy_pass UPSTREAM; }')
  }
  if (http === undefined && !tree.some((d) => d.name === 'stream')) {
    report.problems.push({ file: mainFile, line: 0, message: 'no "http" block with servers, so there is nothing to serve; add http { server { listen PORT; … } }', tier: 'fulcrum' })
  }
  groups.addUnused(groupSettings(httpLevel))
  input.targetGroups = groups.output()
  for (const [name, d] of groups.origins) origins.set(formatPath(['targetGroups', name]), d)
  return { input, report, origins, hostnames, upstreamNames: [...[...upstreams.values()].map((u) => u.name), ...(stream?.upstreamNames ?? [])] }
}

function* everyUpstream(list: readonly Directive[]): Generator<Directive> {
  for (const d of list) {
    if (d.name === 'upstream' && d.block !== undefined) yield d
    if (d.name === 'server' && d.block !== undefined) {
      for (const inner of d.block) if (inner.name === 'upstream' && inner.block !== undefined) yield inner
    }
  }
}

function readServer(block: Directive, httpLevel: Level, scope: Scope, tls: ServerTls): Server {
  const body = block.block ?? []
  const listens: Listen[] = []
  const names: string[] = []
  for (const d of body) {
    if (!scope.valid(d)) continue
    if (d.name === 'listen') {
      const listen = readListen(d, scope.report)
      if (listen === undefined) continue
      const twice = listens.find((l) => l.key === listen.key)
      if (twice !== undefined) scope.report.nginx(d, `a duplicate listen ${listen.key} (first on line ${twice.at.line})`)
      else listens.push(listen)
    }
    if (d.name === 'server_name') {
      for (const name of d.args) {
        if (name.startsWith('~') && !compiles(name.slice(1))) {
          scope.report.fulcrum(d, `the server_name regular expression "${name.slice(1)}" does not compile in JavaScript, which Fulcrum uses; rewrite it (PCRE's (?P<name>…) is (?<name>…))`)
        } else if (!name.startsWith('~') && name.includes('$')) {
          scope.report.fulcrum(d, `server_name "${name}": variables in server names are not supported`)
        } else names.push(name.startsWith('~') ? name : name.toLowerCase())
      }
    }
  }
  // nginx's default: listen *:80 (*:8000 when not started as root).
  if (listens.length === 0) listens.push({ key: '*:80', host: undefined, port: 80, default: false, ssl: false, http2: false, proxyProtocol: false, at: block })
  return { block, listens, names, tls, level: inherit(httpLevel, readLevel(body, scope.valid, scope.report, scope.formats)) }
}

const LISTEN_NO_EFFECT = /^(backlog|rcvbuf|sndbuf|fastopen|accept_filter|setfib|so_keepalive|ipv6only)=|^(deferred|bind|reuseport)$/

function readListen(d: Directive, report: Report): Listen | undefined {
  const [address, ...params] = d.args
  if (address.startsWith('unix:')) {
    report.fulcrum(d, `listen ${address}: UNIX-domain sockets are not supported yet; listen on a port`)
    return undefined
  }
  const parsed = parseHostPort(address, 80, true)
  if (parsed === undefined) {
    report.nginx(d, `invalid address "${address}" in "listen"; write PORT, ADDRESS:PORT or [IPv6]:PORT`)
    return undefined
  }
  let isDefault = false
  let ssl = false
  let http2 = false
  let proxyProtocol = false
  for (const param of params) {
    if (param === 'default_server' || param === 'default') isDefault = true
    else if (param === 'ssl') ssl = true
    else if (param === 'http2') http2 = true
    else if (param === 'quic') report.fulcrum(d, `listen ${address} quic: HTTP/3 is not supported yet`)
    else if (param === 'proxy_protocol') proxyProtocol = true
    else if (LISTEN_NO_EFFECT.test(param)) {
      const name = `listen ${param.split('=')[0]}`
      if (!report.noEffect.has(name)) report.noEffect.set(name, d)
    } else report.nginx(d, `invalid parameter "${param}" in "listen"; parameters are default_server, ssl, http2, backlog=N, reuseport, …`)
  }
  const host = parsed.host?.toLowerCase()
  const key = host === undefined ? `*:${parsed.port}` : joinHostPort(host, parsed.port)
  return { key, host, port: parsed.port, default: isDefault, ssl, http2, proxyProtocol, at: d }
}

/**
 * Servers by listen address, in file order. `listen 80` and `listen [::]:80` on the same servers become one
 * listener: Fulcrum's port-only listener takes IPv4 and IPv6 on one socket.
 */
function groupListeners(servers: Server[], report: Report): Map<string, { server: Server; listen: Listen }[]> {
  const byKey = new Map<string, { server: Server; listen: Listen }[]>()
  for (const server of servers) {
    for (const listen of server.listens) {
      const list = byKey.get(listen.key) ?? []
      const defaults = list.filter((e) => e.listen.default)
      if (listen.default && defaults.length > 0) {
        report.nginx(listen.at, `a duplicate default server for ${listen.key} (first on line ${defaults[0].listen.at.line})`)
        listen.default = false
      }
      list.push({ server, listen })
      byKey.set(listen.key, list)
    }
  }
  for (const [key, list] of byKey) {
    if (!key.startsWith('[::]:')) continue
    const port = key.slice('[::]:'.length)
    const v4 = byKey.get(`*:${port}`)
    if (v4 === undefined) continue
    const same = v4.length === list.length && v4.every((e, i) => e.server === list[i].server && e.listen.default === list[i].listen.default)
    if (same) byKey.delete(key)
    else report.fulcrum(list[0].listen.at, `listen [::]:${port} and listen ${port} serve different server blocks; Fulcrum takes IPv4 and IPv6 on one socket, so give both the same servers`)
  }
  return byKey
}

function buildListener(key: string, entries: { server: Server; listen: Listen }[], httpLevel: Level, scope: Scope, at: string): Out {
  const first = entries[0].listen
  scope.origins.set(at, first.at)
  scope.origins.set(`${at}.listen`, first.at)
  scope.port = first.port
  const defaultEntry = entries.find((e) => e.listen.default) ?? entries[0]
  const level = defaultEntry.server.level
  const listener: Out = {
    name: key,
    protocol: 'http',
    listen: first.host === undefined ? first.port : joinHostPort(first.host, first.port),
    forwardedHeaders: false,
    requestId: false,
    errorPages: 'nginx',
    // Read before nginx knows the server name, so the default server's values hold for the whole address.
    limits: { headerTimeout: duration(level.headerTimeout ?? 60_000), keepAliveTimeout: duration(level.keepAlive?.ms ?? 75_000) },
    maxBodyBytes: httpLevel.maxBody ?? MAX_BODY_DEFAULT,
  }
  if (entries.some((e) => e.listen.ssl)) addTls(listener, key, entries, scope.report)
  else {
    const listen = entries.find((e) => e.listen.http2)?.listen.at
    if (listen !== undefined) scope.report.fulcrum(listen, `listen ${listen.args[0]} http2: HTTP/2 without TLS (h2c) is not supported; add ssl or remove http2`)
    const h2 = entries.find((e) => e.server.tls.http2)
    if (h2 !== undefined) scope.report.warn(h2.listen.at, `http2 on: HTTP/2 without TLS (h2c) is not supported, so ${key} serves HTTP/1.1 only; add ssl to the listen for h2`)
  }
  if (httpLevel.access !== undefined) listener.access = httpLevel.access
  // nginx: proxy_protocol on any listen of the address makes the socket expect the header.
  if (entries.some((e) => e.listen.proxyProtocol)) listener.acceptProxyProtocol = true
  scope.protection.listener(listener, key, entries.map(({ server, listen }) => ({ level: server.level, block: server.block, listen: listen.at, proxyProtocol: listen.proxyProtocol })), level)
  const names = new Map<string, number>()
  const logs: { log: AccessLog[] | undefined; at: Directive }[] = []
  listener.virtualHosts = entries.map(({ server, listen }, i) => {
    const path = `${at}.virtualHosts[${i}]`
    scope.origins.set(path, server.block)
    const vhostNames = server.names.filter((name) => {
      const lower = name.toLowerCase()
      const firstLine = names.get(lower)
      if (firstLine === undefined) {
        names.set(lower, server.block.line)
        return true
      }
      scope.report.warn(listen.at, `conflicting server name "${name}" on ${key} (first in the server on line ${firstLine}), ignored`)
      return false
    })
    const vhost: Out = { names: vhostNames }
    if (listen.default) vhost.default = true
    const body = server.block.block ?? []
    const serverOwn = readLevel(body, scope.valid, new Report(), scope.formats)
    scope.protection.server = server.level
    // A server-level return answers every request before any location is chosen.
    const action: Out = { location: '/' }
    const acted = readAction(body, undefined, server.level, scope, action)
    if (acted === 'return') {
      if (server.level.addHeaders !== undefined && server.level.addHeaders.length > 0) action.addHeaders = server.level.addHeaders
      // It answers before nginx reads the body limit or checks allow/deny.
      if (server.level.access !== undefined && server.level.access.length > 0) action.access = []
      action.maxBodyBytes = 0
      scope.protection.serverReturn(server.level, body.find((d) => d.name === 'return' && scope.valid(d)) ?? server.block)
      vhost.locations = [action]
      logs.push({ log: server.level.accessLogs, at: server.block })
    } else {
      vhost.locations = readLocations(body, server.level, {}, undefined, scope, `${path}.locations`)
      if (serverOwn.access !== undefined) vhost.access = serverOwn.access
      if (serverOwn.maxBody !== undefined) vhost.maxBodyBytes = serverOwn.maxBody
      logs.push({ log: server.level.accessLogs, at: server.block })
    }
    scope.protection.virtualHost(vhost, serverOwn, server.level)
    return vhost
  })
  const log = accessLog(logs, key, scope.report)
  if (log !== undefined) listener.accessLog = log
  checkKeepAlive(entries, level, key, scope.report)
  return listener
}

/** One access log per listener: the default server's; other settings on the same address are named in a warning. */
function accessLog(logs: { log: AccessLog[] | undefined; at: Directive }[], key: string, report: Report): Out | undefined {
  const [chosen, ...others] = logs
  const describe = (log: AccessLog[] | undefined) => JSON.stringify(log?.map((l) => (l === 'off' ? 'off' : [l.path, l.format])) ?? null)
  const differing = others.find((o) => describe(o.log) !== describe(chosen.log))
  if (differing !== undefined) {
    report.warn(differing.at, `access_log differs from the first server on ${key}; Fulcrum keeps one access log per listener and uses the first server's`)
  }
  const log = chosen.log?.filter((l) => l !== 'off')
  if (log === undefined || log.length === 0) return undefined
  if (log.length > 1) report.warn(log[1].at, `several access_log files on ${key}; Fulcrum writes the first one only`)
  const { path, format } = log[0]
  return { format: format === COMBINED ? 'combined' : format, path: path === '/dev/stdout' ? 'stdout' : path }
}

function checkKeepAlive(entries: { server: Server }[], level: Level, key: string, report: Report): void {
  const chosen = level.keepAlive?.ms ?? 75_000
  for (const { server } of entries) {
    const other = server.level.keepAlive
    if (other !== undefined && other.ms !== chosen) {
      report.warn(other.at, `keepalive_timeout differs from the default server's on ${key}; Fulcrum applies one value per listener (the default server's)`)
      return
    }
  }
}

/**
 * `listen … ssl` -> an https listener: every server on the address brings its certificates (SNI picks by
 * their names), the lowest ssl_protocols version becomes minVersion, and http2 on any listen turns h2 on.
 */
function addTls(listener: Out, key: string, entries: { server: Server; listen: Listen }[], report: Report): void {
  // As in nginx, ssl on one listen makes the whole address TLS; every server on it needs a certificate.
  const ssl = entries.find((e) => e.listen.ssl)!.listen.at
  for (const { server, listen } of entries) {
    if (listen.ssl || server.tls.certificates.length > 0) continue
    report.nginx(listen.at, `no "ssl_certificate" is defined for the "listen ... ssl" directive in ${ssl.file}:${ssl.line}; add ssl_certificate and ssl_certificate_key to this server too`)
  }
  const certificates: Out[] = []
  const seen = new Set<string>()
  for (const { server } of entries) {
    for (const pair of server.tls.certificates) {
      const id = `${pair.cert}\0${pair.key}`
      if (seen.has(id)) continue
      seen.add(id)
      certificates.push({ cert: pair.cert, key: pair.key })
    }
  }
  const versions = entries.map((e) => e.server.tls.minVersion).filter((v) => v !== undefined)
  const minVersion = versions.includes('TLSv1.2') || versions.length === 0 ? 'TLSv1.2' : 'TLSv1.3'
  if (new Set(versions).size > 1) {
    const other = entries.find((e) => e.server.tls.minVersion !== undefined && e.server.tls.minVersion !== minVersion)
    if (other !== undefined) report.warn(other.listen.at, `ssl_protocols differ between the servers on ${key}; Fulcrum has one minimum TLS version per listener and uses ${minVersion}`)
  }
  listener.protocol = 'https'
  listener.tls = { certificates, minVersion }
  listener.http2 = entries.some((e) => e.listen.http2 || e.server.tls.http2)
}
