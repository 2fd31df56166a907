/**
 * nginx's `stream {}` -> Fulcrum's L4 listeners: one per listen line of each server; tcp, or udp for
 * `listen … udp`, or tls-passthrough for `ssl_preread on` with `proxy_pass $var` from a map on
 * $ssl_preread_server_name. What proxy_pass names (upstreams, HOST:PORT, the map) is read by
 * stream-targets.ts. nginx's stream defaults are written out where Fulcrum's differ (connect 60s,
 * proxy_timeout 10m for udp), so a converted file behaves as nginx did. limit_conn (zones read by
 * protection-directives.ts) becomes the listener's connectionLimits.
 */
import { duration } from './groups.ts'
import type { GroupSettings } from './groups.ts'
import { GROUP_DEFAULTS } from './locations.ts'
import { connectionLimitsOf, readProtectionDirective, readZones } from './protection-directives.ts'
import type { LimitConn } from './protection-directives.ts'
import { readLogFormats, type AccessRule } from './settings.ts'
import type { Report } from './problems.ts'
import { SNI_SOURCE, StreamTargets } from './stream-targets.ts'
import type { StreamScope, Target } from './stream-targets.ts'
import type { Directive } from './syntax.ts'
import { checkAccessRule, joinHostPort, parseHostPort, parseSize, parseTime } from './values.ts'

type Out = Record<string, unknown>

export interface StreamTranslation {
  listeners: Out[]
  upstreamNames: string[]
}

/** What the stream block or one of its servers sets; a server's own values win, lists (allow/deny) whole. */
interface Level {
  connect?: number
  timeout?: number
  nextUpstream?: boolean
  tries?: number
  retryTimeout?: number
  proxyProtocol?: boolean
  proxyProtocolTimeout?: number
  prereadTimeout?: number
  sslPreread?: boolean
  access?: AccessRule[]
  limitConn?: LimitConn[]
  /** access_log PATH FORMAT, or off. */
  accessLog?: { path: string; format: string } | 'off'
}

type Listen = { key: string; host: string | undefined; port: number; udp: boolean; acceptProxy: boolean; at: Directive }

/** nginx's stream defaults: proxy_timeout 10m; preread_timeout and proxy_protocol_timeout 30s (Fulcrum's too). */
const NGINX_TIMEOUT = 600_000
const NGINX_PREREAD = 30_000
const LISTEN_NO_EFFECT = /^(backlog|rcvbuf|sndbuf|fastopen|accept_filter|setfib|so_keepalive|ipv6only)=|^(deferred|bind|reuseport|default_server)$/
const UDP_INCOMPATIBLE = /^(backlog|so_keepalive|fastopen)=|^(deferred|ssl|proxy_protocol)$/

export function translateStream(stream: Directive, scope: StreamScope, firstIndex: number): StreamTranslation {
  const body = stream.block ?? []
  const targets = new StreamTargets(body, scope)
  // stream has no predefined format: every access_log names one of its own log_format lines.
  const formats = readLogFormats(body, scope.valid, scope.report)
  formats.delete('combined')
  const outer = readLevel(body, scope, formats)
  const zones = readZones(body, scope.valid, scope.report)
  const taken = new Map<string, Directive>()
  const listeners: Out[] = []
  for (const server of body) {
    if (server.name !== 'server' || server.block === undefined || !scope.valid(server)) continue
    const level: Level = { ...outer, ...readLevel(server.block, scope, formats) }
    const listens = readListens(server, scope, taken)
    const target = targets.read(server, settings(level))
    if (target === undefined) continue
    for (const listen of listens) {
      const listener = buildListener(listen, target, level, scope, `listeners[${firstIndex + listeners.length}]`)
      if (listener === undefined) continue
      // nginx counts open connections per key: per client address, or per address or port of the server.
      const limits = connectionLimitsOf(level.limitConn, undefined, zones, scope.report)
      if (limits !== undefined && listen.udp) scope.report.fulcrum(level.limitConn![0].at, `limit_conn on listen ${listen.at.args[0]} udp: Fulcrum limits connections of tcp listeners only; remove it for this server`)
      else if (limits !== undefined) {
        // An L4 listener closes a connection over the limit: no status.
        const { status: _, ...counts } = limits
        listener.connectionLimits = counts
      }
      listeners.push(listener)
    }
  }
  targets.addUnused(settings(outer))
  return { listeners, upstreamNames: targets.upstreamNames }
}

function settings(level: Level): GroupSettings {
  // nginx stream tries the next server on a failed or timed-out connect (proxy_next_upstream on), every server once.
  return {
    ...GROUP_DEFAULTS, retry: level.nextUpstream ?? true, tries: level.tries ?? 0,
    retryTimeout: level.retryTimeout ?? 0, connect: level.connect ?? GROUP_DEFAULTS.connect,
  }
}

function readLevel(body: readonly Directive[], scope: StreamScope, formats: ReadonlyMap<string, string>): Level {
  const { report } = scope
  const level: Level = {}
  const time = (d: Directive, set: (ms: number) => void) => {
    const ms = parseTime(d.args[0])
    if (ms === undefined) report.nginx(d, `invalid value "${d.args[0]}" in "${d.name}"; write a time such as 30s, 500ms or 1m`)
    else set(ms)
  }
  for (const d of body) {
    if (!scope.valid(d) || d.block !== undefined) continue
    const on = d.args[0] === 'on'
    switch (d.name) {
      case 'proxy_connect_timeout': time(d, (ms) => { level.connect = ms }); break
      case 'proxy_timeout': time(d, (ms) => { level.timeout = ms }); break
      case 'proxy_next_upstream_timeout': time(d, (ms) => { level.retryTimeout = ms }); break
      case 'proxy_protocol_timeout': time(d, (ms) => { level.proxyProtocolTimeout = ms }); break
      case 'preread_timeout': time(d, (ms) => { level.prereadTimeout = ms }); break
      case 'proxy_next_upstream': level.nextUpstream = on; break
      case 'proxy_protocol': level.proxyProtocol = on; break
      case 'ssl_preread': level.sslPreread = on; break
      case 'proxy_next_upstream_tries':
        if (!/^\d+$/.test(d.args[0])) report.nginx(d, `invalid value "${d.args[0]}" in "proxy_next_upstream_tries"; write a number (0 = every server once)`)
        else level.tries = Number(d.args[0])
        break
      case 'allow':
      case 'deny': {
        const checked = checkAccessRule(d.args[0])
        if (checked === undefined) report.nginx(d, `invalid parameter "${d.args[0]}" in "${d.name}"; write an address, a CIDR such as 10.0.0.0/8, or all`)
        else {
          if (checked.warning !== undefined) report.warn(d, checked.warning)
          ;(level.access ??= []).push(d.name === 'allow' ? { allow: d.args[0] } : { deny: d.args[0] })
        }
        break
      }
      case 'access_log': {
        const log = readStreamAccessLog(d, formats, report)
        if (log !== undefined) level.accessLog = log
        break
      }
      case 'proxy_responses':
      case 'proxy_requests':
        report.fulcrum(d, `${d.name} is not supported: a UDP client keeps its session (and target) until idleTimeout passes without a datagram; remove it, and shorten proxy_timeout if sessions should end sooner`)
        break
      case 'proxy_download_rate':
      case 'proxy_upload_rate': {
        const rate = parseSize(d.args[0])
        if (rate === undefined) report.nginx(d, `invalid value "${d.args[0]}" in "${d.name}"; write bytes per second such as 512k, or 0`)
        else if (rate !== 0) report.fulcrum(d, `${d.name} is not supported: bytes are relayed as fast as both sides take them; remove it (0 = no limit)`)
        break
      }
      case 'proxy_ssl':
        if (on) report.fulcrum(d, 'proxy_ssl on is not supported: L4 listeners relay bytes and speak no TLS to targets; let the targets speak TLS themselves (tls-passthrough), or use an http server with proxy_pass https://')
        break
      case 'server_name':
        report.fulcrum(d, 'server_name in stream is not supported; route by SNI with map $ssl_preread_server_name $name { NAME UPSTREAM; … } and ssl_preread on; proxy_pass $name;')
        break
      case 'limit_conn':
      case 'limit_conn_log_level':
      case 'limit_conn_dry_run':
        readProtectionDirective(d, level, report)
        break
      case 'set_real_ip_from':
        report.warn(d, 'set_real_ip_from in stream: Fulcrum takes the PROXY header\'s source as the client on every listen … proxy_protocol (acceptProxyProtocol), whichever peer sent it, not only from these addresses')
        break
    }
  }
  return level
}

/** access_log PATH FORMAT [buffer=…] [flush=…] [gzip] | off: stream's format is not optional. */
function readStreamAccessLog(d: Directive, formats: ReadonlyMap<string, string>, report: Report): Level['accessLog'] | undefined {
  const [path, name, ...params] = d.args
  if (path === 'off') return 'off'
  if (name === undefined) {
    report.nginx(d, 'access_log in stream needs a format: define one with log_format NAME \'…\'; in stream and write access_log PATH NAME;')
    return undefined
  }
  const format = formats.get(name)
  if (format === undefined) {
    report.nginx(d, `unknown log format "${name}"; define it with log_format ${name} '…'; in the stream block`)
    return undefined
  }
  if (path.startsWith('syslog:') || path.includes('$')) {
    report.fulcrum(d, 'access_log to syslog or to a path with variables is not supported; log to a file or /dev/stdout')
    return undefined
  }
  for (const param of params) {
    if (param.startsWith('if=')) report.fulcrum(d, 'access_log … if= is not supported; every session is logged')
  }
  return { path: path === '/dev/stdout' ? 'stdout' : path, format }
}

function readListens(server: Directive, scope: StreamScope, taken: Map<string, Directive>): Listen[] {
  const { report } = scope
  const listens: Listen[] = []
  for (const d of server.block ?? []) {
    if (d.name !== 'listen' || !scope.valid(d)) continue
    const [address, ...params] = d.args
    if (address.startsWith('unix:')) {
      report.fulcrum(d, `listen ${address}: UNIX-domain sockets are not supported yet; listen on a port`)
      continue
    }
    const parsed = parseHostPort(address, 0, true)
    if (parsed === undefined || !parsed.explicitPort) {
      report.nginx(d, `invalid address "${address}" in "listen"; write PORT, ADDRESS:PORT or [IPv6]:PORT`)
      continue
    }
    const udp = params.includes('udp')
    let ok = true
    for (const param of params) {
      if (udp && UDP_INCOMPATIBLE.test(param)) {
        report.nginx(d, `"${param.split('=')[0]}" parameter is incompatible with "udp"`)
        ok = false
      } else if (param === 'ssl') {
        report.fulcrum(d, `listen ${address} ssl: TLS termination in stream is not supported (Fulcrum terminates TLS on https listeners, in http); pass the TLS through instead (remove ssl, add ssl_preread on) or serve it from an http server with listen … ssl`)
        ok = false
      } else if (LISTEN_NO_EFFECT.test(param)) {
        const name = `listen ${param.split('=')[0]}`
        if (!report.noEffect.has(name)) report.noEffect.set(name, d)
      } else if (param !== 'udp' && param !== 'proxy_protocol') {
        report.nginx(d, `invalid parameter "${param}" in "listen"; parameters are udp, proxy_protocol, reuseport, backlog=N, …`)
        ok = false
      }
    }
    if (!ok) continue
    const host = parsed.host?.toLowerCase()
    const key = `${host === undefined ? `*:${parsed.port}` : joinHostPort(host, parsed.port)}/${udp ? 'udp' : 'tcp'}`
    const first = taken.get(key)
    if (first !== undefined) {
      report.nginx(d, `duplicate "${key}" address and port pair (first on line ${first.line})`)
      continue
    }
    taken.set(key, d)
    listens.push({ key, host, port: parsed.port, udp, acceptProxy: params.includes('proxy_protocol'), at: d })
  }
  if (listens.length === 0 && !(server.block ?? []).some((d) => d.name === 'listen')) {
    report.nginx(server, `no "listen" is defined for server in ${server.file}:${server.line}; add listen PORT;`)
  }
  // listen 5000 and listen [::]:5000 in one server: Fulcrum's port-only listener takes IPv4 and IPv6 on one socket.
  return listens.filter((l) => !(l.host === '::' && listens.some((o) => o.host === undefined && o.port === l.port && o.udp === l.udp)))
}

function buildListener(listen: Listen, target: Target, level: Level, scope: StreamScope, at: string): Out | undefined {
  const { report, origins } = scope
  const listener: Out = { name: listen.key, protocol: listen.udp ? 'udp' : 'tcp', listen: listen.host === undefined ? listen.port : joinHostPort(listen.host, listen.port) }
  if (target.kind === 'sni' && (listen.udp || level.sslPreread !== true)) {
    if (listen.udp) {
      report.fulcrum(listen.at, `listen ${listen.at.args[0]} udp: choosing the upstream by SNI name (proxy_pass ${target.at.args[0]}) needs TCP; proxy_pass an upstream`)
      return undefined
    }
    if (target.forward === undefined) {
      report.fulcrum(target.at, `ssl_preread is off, so ${SNI_SOURCE} is empty and the map on line ${target.map.at.line}, which has no default, names no upstream; add ssl_preread on;`)
      return undefined
    }
    report.warn(target.at, `ssl_preread is off, so ${SNI_SOURCE} is empty and every connection takes the map's default; add ssl_preread on; to choose by SNI name`)
  }
  if (target.kind === 'sni' && listener.protocol === 'tcp' && level.sslPreread === true) {
    listener.protocol = 'tls-passthrough'
    listener.routes = target.routes.map((route, r) => {
      origins.set(`${at}.routes[${r}]`, route.at)
      route.names.forEach((n, i) => origins.set(`${at}.routes[${r}].serverNames[${i}]`, n.at))
      return { serverNames: route.names.map((n) => n.name), forward: route.forward }
    })
    if (target.forward !== undefined) listener.forward = target.forward
  } else listener.forward = target.forward
  origins.set(at, listen.at)
  origins.set(`${at}.listen`, listen.at)
  origins.set(`${at}.forward`, target.kind === 'sni' ? target.forwardAt ?? target.at : target.at)
  // nginx's proxy_timeout default (10m) is Fulcrum's for tcp, not for udp (120s): written out either way.
  listener.idleTimeout = duration(level.timeout ?? NGINX_TIMEOUT)
  if (listen.udp) {
    if (level.proxyProtocol === true) {
      report.fulcrum(listen.at, `listen ${listen.at.args[0]} udp with proxy_protocol on: Fulcrum sends no PROXY header to UDP targets; turn proxy_protocol off for this server`)
      return undefined
    }
  } else {
    // One prereadTimeout bounds each wait: for the PROXY header (proxy_protocol_timeout), for the ClientHello (preread_timeout).
    const waits = [...(listen.acceptProxy ? [level.proxyProtocolTimeout ?? NGINX_PREREAD] : []),
      ...(listener.protocol === 'tls-passthrough' ? [level.prereadTimeout ?? NGINX_PREREAD] : [])]
    const preread = waits.length === 0 ? NGINX_PREREAD : Math.max(...waits)
    if (new Set(waits).size > 1) report.warn(listen.at, `proxy_protocol_timeout and preread_timeout differ; Fulcrum has one prereadTimeout for both waits and uses the longer, ${duration(preread)}`)
    if (preread !== NGINX_PREREAD) listener.prereadTimeout = duration(preread)
    if (listen.acceptProxy) listener.acceptProxyProtocol = true
    if (level.proxyProtocol === true) listener.proxyProtocol = 'v1'
  }
  if (level.accessLog !== undefined && level.accessLog !== 'off') listener.accessLog = { ...level.accessLog }
  if (level.access !== undefined) {
    listener.access = level.access
    if (listen.acceptProxy) {
      report.warn(listen.at, `allow/deny on listen … proxy_protocol: Fulcrum checks the client's address from the PROXY header (as nginx does with set_real_ip_from), not the address of the balancer in front`)
    }
  }
  return listener
}
