/**
 * nginx's front-door directives -> Fulcrum's protection settings:
 *
 * - `limit_req_zone` + `limit_req` + `limit_req_status` -> `rateLimit` entries sharing buckets by `zone`, on
 *   the listener (http), virtual host (server) or location, written where nginx's inheritance changes them;
 * - `limit_conn_zone` + `limit_conn` + `limit_conn_status` -> the listener's `connectionLimits` (Fulcrum
 *   counts per listener: every server on an address must agree, a location may only repeat its server's);
 * - `large_client_header_buffers` (default 4 8k) -> `limits.maxHeaderBytes` and `limits.maxUriBytes`;
 * - `client_body_timeout` -> `limits.bodyTimeout` (listener, or location where it differs);
 * - `set_real_ip_from` + `real_ip_header X-Forwarded-For` (+ `real_ip_recursive`) -> `trustedProxies`,
 *   and `listen … proxy_protocol` (translate.ts) with `real_ip_header proxy_protocol` -> `acceptProxyProtocol`.
 *
 * settings.ts reads the directives of each level into its `Level` (protection-directives.ts); this file
 * turns the inherited values into output.
 */
import { duration } from './groups.ts'
import type { Report } from './problems.ts'
import { CLIENT_KEYS, connectionLimitsOf, NGINX_STATUS, plainKey, readZones } from './protection-directives.ts'
import type { ConnLimits, LimitReq, Zone } from './protection-directives.ts'
import type { Level } from './settings.ts'
import type { Directive } from './syntax.ts'

type Out = Record<string, unknown>

/** nginx's defaults: large_client_header_buffers 4 8k; client_body_timeout 60s. */
const HEADER_BUFFERS = { count: 4, size: 8 * 1024 }
const BODY_TIMEOUT = 60_000
const ZONE_NAME = /^[A-Za-z0-9_.-]+$/

type RealIp = { from: string[]; header: string; recursive: boolean; at: Directive }

/** The http block's zones and levels, for the listeners, virtual hosts and locations translate.ts builds. */
export class Protection {
  readonly #zones: Map<string, Zone>
  readonly #http: Level
  readonly #report: Report
  /** The server block whose locations are being read: limit_conn and the real IP are decided per server. */
  server: Level
  /** Listener keys by limit_conn zone, to say once that nginx counts a zone across listeners. */
  readonly #connZoneUse = new Map<string, Set<string>>()

  constructor(httpBody: readonly Directive[], http: Level, valid: (d: Directive) => boolean, report: Report) {
    this.#zones = readZones(httpBody, valid, report)
    this.#http = http
    this.server = http
    this.#report = report
    this.#checkReferences(httpBody, valid)
  }

  /** nginx -t fails on a limit_req or limit_conn naming a zone no *_zone directive defines, wherever it stands. */
  #checkReferences(list: readonly Directive[], valid: (d: Directive) => boolean): void {
    for (const d of list) {
      if (!valid(d)) continue
      if (d.block !== undefined && (d.name === 'server' || d.name === 'location')) this.#checkReferences(d.block, valid)
      const name = d.name === 'limit_req' ? d.args.find((a) => a.startsWith('zone='))?.slice(5) : d.name === 'limit_conn' ? d.args[0] : undefined
      if (name === undefined || name === '') continue
      const wanted = d.name === 'limit_req' ? 'limit_req_zone' : 'limit_conn_zone'
      const zone = this.#zones.get(name)
      if (zone === undefined) {
        const example = wanted === 'limit_req_zone' ? '$binary_remote_addr zone=NAME:10m rate=10r/s' : '$binary_remote_addr zone=NAME:10m'
        this.#report.nginx(d, `zero size shared memory zone "${name}": no ${wanted} defines it; add ${wanted} ${example.replace('NAME', name)}; in http`)
      } else if (zone.kind !== wanted) {
        this.#report.nginx(d, `the shared memory zone "${name}" is already declared for a different use (${zone.kind} on line ${zone.at.line}); ${d.name} needs a ${wanted}`)
      }
    }
  }

  /**
   * The listener's share: head limits (large_client_header_buffers of the default server), the http body
   * timeout and rate limits, connection limits and trusted proxies (the same for every server on it).
   */
  listener(listener: Out, key: string, servers: readonly { level: Level; block: Directive; listen: Directive; proxyProtocol: boolean }[], defaultLevel: Level): void {
    const limits = listener.limits as Out
    const buffers = defaultLevel.headerBuffers ?? HEADER_BUFFERS
    const headBytes = buffers.count * buffers.size
    limits.maxHeaderBytes = sizeText(headBytes)
    // nginx answers 414 when the request line does not fit in one buffer.
    limits.maxUriBytes = sizeText(buffers.size)
    // nginx counts no header fields, it limits the head by size: as many as fit ("a:" and CRLF, 4 bytes each).
    limits.maxHeaders = Math.min(10_000, Math.max(1, Math.floor(headBytes / 4)))
    if (this.#http.bodyTimeout !== undefined) limits.bodyTimeout = duration(this.#http.bodyTimeout)
    const differing = servers.find((s) => s.level.headerBuffers !== undefined && !sameBuffers(s.level.headerBuffers, buffers))
    if (differing !== undefined) {
      this.#report.warn(differing.level.headerBuffers!.at, `large_client_header_buffers differs from the default server's on ${key}; Fulcrum applies one value per listener (the default server's, ${buffers.count} ${sizeText(buffers.size)})`)
    }
    const rates = this.#http.limitReq === undefined ? undefined : this.rateLimits(this.#http)
    if (rates !== undefined) listener.rateLimit = rates
    const conns = this.#listenerConnections(key, servers)
    if (conns !== undefined) listener.connectionLimits = conns
    this.#realIp(listener, key, servers)
  }

  /** A server's rate limits where it sets limit_req or limit_req_status itself (else the listener's hold). */
  virtualHost(vhost: Out, own: Level, level: Level): void {
    if (own.limitReq === undefined && own.limitReqStatus === undefined) return
    const rates = this.rateLimits(level)
    if (rates !== undefined) vhost.rateLimit = rates
  }

  /** A server-level return answers in nginx's rewrite phase, before limit_req. */
  serverReturn(level: Level, returned: Directive): void {
    if (level.limitReq !== undefined) this.#report.warn(returned, returnMessage('the server', level.limitReq))
  }

  /**
   * A location: its rate limits where it (or one around it) sets limit_req or limit_req_status, its body
   * timeout where it differs from the listener's; limit_conn and the real IP must be its server's.
   */
  location(into: Out, d: Directive, selector: string, level: Level, own: Level, ownLevel: Level, returned: Directive | undefined): void {
    if (own.limitReq !== undefined || own.limitReqStatus !== undefined) {
      const rates = this.rateLimits(level)
      if (rates !== undefined) into.rateLimit = rates
    }
    if (returned !== undefined && level.limitReq !== undefined) this.#report.warn(returned, returnMessage(`location "${selector}"`, level.limitReq))
    const body = level.bodyTimeout ?? BODY_TIMEOUT
    if (body !== (this.#http.bodyTimeout ?? BODY_TIMEOUT)) into.limits = { ...(into.limits as Out | undefined), bodyTimeout: duration(body) }
    if (ownLevel.limitConn !== undefined || ownLevel.limitConnStatus !== undefined) {
      if (JSON.stringify(this.#connections(level)) !== JSON.stringify(this.#connections(this.server))) {
        const at = ownLevel.limitConn?.[0].at ?? d
        this.#report.fulcrum(at, `limit_conn in location "${selector}": Fulcrum counts connections per listener, not per location; move the limit (and limit_conn_status) to the server or http level`)
      }
    }
    if (ownLevel.realIpFrom !== undefined || ownLevel.realIpHeader !== undefined || ownLevel.realIpRecursive !== undefined) {
      if (realIpText(realIpOf(level)) !== realIpText(realIpOf(this.server))) {
        const at = ownLevel.realIpFrom?.[0].at ?? ownLevel.realIpHeader?.at ?? d
        this.#report.fulcrum(at, `set_real_ip_from/real_ip_header/real_ip_recursive in location "${selector}": Fulcrum decides who the client is per listener; move them to the server or http level`)
      }
    }
  }

  /** A level's limit_req entries with its limit_req_status; one entry alone, several as a list. */
  rateLimits(level: Level): Out | Out[] | undefined {
    const status = level.limitReqStatus ?? NGINX_STATUS
    const out: Out[] = []
    for (const limit of level.limitReq ?? []) {
      const zone = this.#zones.get(limit.zone)
      if (zone === undefined || zone.kind !== 'limit_req_zone') continue
      const key = this.#rateKey(zone)
      if (key === undefined || !this.#zoneName(zone)) continue
      const entry: Out = { zone: zone.name, rate: zone.rate }
      if (limit.burst > 0) entry.burst = limit.burst
      if (limit.nodelay) entry.nodelay = true
      else if (limit.delay > 0) entry.delay = limit.delay
      entry.key = key
      entry.status = status
      entry.maxKeys = zone.maxKeys
      out.push(entry)
    }
    return out.length === 0 ? undefined : out.length === 1 ? out[0] : out
  }

  #rateKey(zone: Zone): string | undefined {
    const key = plainKey(zone.key)
    if (CLIENT_KEYS.has(key)) return 'client-ip'
    const header = /^\$http_([A-Za-z0-9_-]+)$/.exec(key)
    // nginx's $http_x_api_key is the X-Api-Key header: lower case, "_" for "-".
    if (header !== null) return `header:${header[1].toLowerCase().replaceAll('_', '-')}`
    this.#report.fulcrum(zone.at, `limit_req_zone ${zone.name}: the key "${zone.key}" is not supported; Fulcrum keeps rate limits per client address ($binary_remote_addr, $remote_addr) or per request header ($http_NAME)`)
    return undefined
  }

  #zoneName(zone: Zone): boolean {
    if (ZONE_NAME.test(zone.name)) return true
    this.#report.fulcrum(zone.at, `zone name "${zone.name}": Fulcrum's zone names take letters, digits, "_", "." and "-"; rename it`)
    return false
  }

  /** A level's limit_conn as Fulcrum's listener limits; undefined without any. */
  #connections(level: Level): ConnLimits | undefined {
    return connectionLimitsOf(level.limitConn, level.limitConnStatus, this.#zones, this.#report)
  }

  #listenerConnections(key: string, servers: readonly { level: Level; block: Directive }[]): ConnLimits | undefined {
    const each = servers.map((s) => this.#connections(s.level))
    const first = JSON.stringify(each[0] ?? null)
    const other = each.findIndex((c) => JSON.stringify(c ?? null) !== first)
    if (other >= 0) {
      const at = servers[other].level.limitConn?.[0].at ?? servers[other].block
      this.#report.fulcrum(at, `limit_conn differs between the server blocks on ${key} (lines ${servers[0].block.line} and ${servers[other].block.line}); Fulcrum counts connections per listener, so give every server on the address the same limit_conn and limit_conn_status (or set them in http)`)
      return undefined
    }
    const limits = each[0]
    if (limits === undefined) return undefined
    for (const limit of servers[0].level.limitConn ?? []) {
      const zone = this.#zones.get(limit.zone)
      if (zone === undefined) continue
      if (plainKey(zone.key) === '$server_name' && servers.length > 1) {
        this.#report.fulcrum(limit.at, `limit_conn ${zone.name}: nginx counts $server_name per server block, and ${servers.length} server blocks share ${key}; Fulcrum's total counts the whole listener; key the zone by $server_addr, or give the address one server block`)
      }
      const used = this.#connZoneUse.get(zone.name) ?? new Set<string>()
      used.add(key)
      this.#connZoneUse.set(zone.name, used)
      if (used.size === 2) {
        this.#report.warn(zone.at, `limit_conn_zone ${zone.name} is used on ${[...used].join(' and ')}: nginx keeps one count per value of ${zone.key} across them, Fulcrum one per listener (up to the limit on each)`)
      }
    }
    return limits
  }

  /** set_real_ip_from with real_ip_header X-Forwarded-For -> trustedProxies; proxy_protocol -> the PROXY header's source. */
  #realIp(listener: Out, key: string, servers: readonly { level: Level; block: Directive; listen: Directive; proxyProtocol: boolean }[]): void {
    const proxyProtocol = servers.find((s) => s.proxyProtocol)?.listen
    const each = servers.map((s) => realIpOf(s.level))
    const other = each.findIndex((r) => realIpText(r) !== realIpText(each[0]))
    if (other >= 0) {
      this.#report.fulcrum(each[other]?.at ?? servers[other].block, `set_real_ip_from/real_ip_header/real_ip_recursive differ between the server blocks on ${key} (lines ${servers[0].block.line} and ${servers[other].block.line}); Fulcrum decides who the client is per listener, so give every server on the address the same (or set them in http)`)
      return
    }
    const realIp = each[0]
    const header = realIp?.header.toLowerCase()
    if (proxyProtocol !== undefined && header !== 'proxy_protocol') {
      this.#report.warn(proxyProtocol, `listen ${proxyProtocol.args[0]} proxy_protocol: Fulcrum takes the PROXY header's source as the client ($remote_addr, allow/deny, limits, logs); nginx keeps the address of the balancer in front unless set_real_ip_from names it and real_ip_header is proxy_protocol; add both to make nginx agree`)
    }
    if (realIp === undefined) return
    if (header === 'proxy_protocol') {
      if (proxyProtocol === undefined) this.#report.warn(realIp.at, `real_ip_header proxy_protocol has no effect on ${key}, which has no listen … proxy_protocol`)
      else this.#report.warn(realIp.at, `real_ip_header proxy_protocol: Fulcrum believes the PROXY header of every connection on ${key}, nginx only from the set_real_ip_from addresses; make sure only those can reach the port`)
      return
    }
    if (header !== 'x-forwarded-for') {
      this.#report.fulcrum(realIp.at, `real_ip_header ${realIp.header}${realIp.at.name === 'set_real_ip_from' ? ' (nginx\'s default)' : ''}: Fulcrum reads the client from X-Forwarded-For only (trustedProxies); write real_ip_header X-Forwarded-For; if the proxies in front send it`)
      return
    }
    listener.trustedProxies = realIp.from
    // Fulcrum walks X-Forwarded-For right to left past every trusted address (real_ip_recursive on). With it off
    // nginx takes the last address even when it is itself trusted: that differs only when a request can pass two
    // trusted proxies, so when more than one address is trusted.
    if (!realIp.recursive && (realIp.from.length > 1 || realIp.from.some((f) => !isSingleAddress(f)))) {
      this.#report.warn(realIp.at, `real_ip_recursive off (nginx's default): nginx takes the last X-Forwarded-For address as the client even when it is a trusted proxy itself; Fulcrum skips trusted addresses right to left (real_ip_recursive on), so the two differ for requests that passed two trusted proxies; add real_ip_recursive on; to make nginx agree`)
    }
  }
}

function realIpOf(level: Level): RealIp | undefined {
  const from = level.realIpFrom
  if (from === undefined || from.length === 0) return undefined
  return {
    from: from.map((f) => f.from),
    // nginx's default real_ip_header is X-Real-IP.
    header: level.realIpHeader?.name ?? 'X-Real-IP',
    recursive: level.realIpRecursive ?? false,
    at: level.realIpHeader?.at ?? from[0].at,
  }
}

/** What decides the client, for comparing two levels. */
function realIpText(r: RealIp | undefined): string {
  return JSON.stringify(r === undefined ? null : [r.from, r.header.toLowerCase(), r.recursive])
}

function returnMessage(where: string, limits: readonly LimitReq[]): string {
  const zones = limits.map((l) => l.zone).join(', ')
  return `return in ${where} answers in nginx's rewrite phase, before limit_req: nginx does not rate-limit these requests, Fulcrum does (zone ${zones}); if that matters, set limit_req only in the locations that proxy`
}

function isSingleAddress(from: string): boolean {
  const slash = from.indexOf('/')
  if (slash < 0) return true
  const bits = Number(from.slice(slash + 1))
  return bits === (from.includes(':') ? 128 : 32)
}

function sameBuffers(a: { count: number; size: number }, b: { count: number; size: number }): boolean {
  return a.count === b.count && a.size === b.size
}

/** Bytes as nginx would write them: "8k", "1m", or a number. */
function sizeText(bytes: number): string | number {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}m`
  if (bytes % 1024 === 0) return `${bytes / 1024}k`
  return bytes
}
