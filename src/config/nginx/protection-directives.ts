/**
 * Reading the protection directives of one level (limit_req, limit_conn and their statuses,
 * large_client_header_buffers, client_body_timeout, set_real_ip_from, real_ip_header, real_ip_recursive)
 * and the zones of an http or stream block, checked as nginx -t checks them. protection.ts turns them into
 * Fulcrum's settings.
 */
import type { Report } from './problems.ts'
import type { Directive } from './syntax.ts'
import { checkAccessRule, parseSize, parseTime } from './values.ts'

export interface LimitReq { zone: string; burst: number; delay: number; nodelay: boolean; at: Directive }
export interface LimitConn { zone: string; count: number; at: Directive }

/** What a level (http, server, location) sets of these directives; lists are inherited whole (settings.ts). */
export interface ProtectionLevel {
  limitReq?: LimitReq[]
  limitReqStatus?: number
  limitConn?: LimitConn[]
  limitConnStatus?: number
  headerBuffers?: { count: number; size: number; at: Directive }
  bodyTimeout?: number
  realIpFrom?: { from: string; at: Directive }[]
  realIpHeader?: { name: string; at: Directive }
  realIpRecursive?: boolean
}

/** nginx's limit_req_status and limit_conn_status default. */
export const NGINX_STATUS = 503
/** nginx refuses a zone smaller than 8 memory pages. */
const MIN_ZONE = 8 * 4096
/** A limit_req state with $binary_remote_addr takes 64 bytes: a 1m zone holds about 16000 keys (nginx documentation). */
const STATE_BYTES = 64
const LOG_LEVELS = new Set(['info', 'notice', 'warn', 'error'])
export const CLIENT_KEYS: ReadonlySet<string> = new Set(['$binary_remote_addr', '$remote_addr'])
/** Keys nginx counts per server or address: a per-listener total in Fulcrum. */
const SERVER_KEYS = new Set(['$server_name', '$server_addr', '$server_port'])

/** Reads one protection directive into `level`; false when `d` is not one of them. */
export function readProtectionDirective(d: Directive, level: ProtectionLevel, report: Report): boolean {
  switch (d.name) {
    case 'limit_req': {
      const limit = readLimitReq(d, report)
      if (limit === undefined) break
      const twice = level.limitReq?.find((l) => l.zone === limit.zone)
      if (twice !== undefined) report.nginx(d, `"limit_req" directive is duplicate (zone "${limit.zone}" on line ${twice.at.line}); keep one`)
      else (level.limitReq ??= []).push(limit)
      break
    }
    case 'limit_conn': {
      const limit = readLimitConn(d, level.limitConn ?? [], report)
      if (limit !== undefined) (level.limitConn ??= []).push(limit)
      break
    }
    case 'limit_req_status':
    case 'limit_conn_status': {
      const status = /^\d+$/.test(d.args[0]) ? Number(d.args[0]) : NaN
      if (!(status >= 400 && status <= 599)) report.nginx(d, `invalid value "${d.args[0]}" in "${d.name}": value must be between 400 and 599`)
      else if (d.name === 'limit_req_status') level.limitReqStatus = status
      else level.limitConnStatus = status
      break
    }
    case 'limit_req_log_level':
    case 'limit_conn_log_level':
      if (!LOG_LEVELS.has(d.args[0])) report.nginx(d, `invalid value "${d.args[0]}" in "${d.name}"; write info, notice, warn or error`)
      break
    case 'limit_req_dry_run':
    case 'limit_conn_dry_run':
      if (d.args[0] === 'on') {
        report.fulcrum(d, `${d.name} on is not supported: Fulcrum has no dry-run mode and would refuse the requests nginx only logs; remove it, or the limits`)
      } else if (!report.noEffect.has(d.name)) report.noEffect.set(d.name, d)
      break
    case 'large_client_header_buffers': {
      const count = /^\d+$/.test(d.args[0]) ? Number(d.args[0]) : 0
      const size = parseSize(d.args[1]) ?? 0
      if (count < 1 || size < 1) report.nginx(d, `"large_client_header_buffers" directive invalid value; write NUMBER SIZE, such as 4 8k`)
      else level.headerBuffers = { count, size, at: d }
      break
    }
    case 'client_body_timeout': {
      const ms = parseTime(d.args[0])
      if (ms === undefined) report.nginx(d, `invalid value "${d.args[0]}" in "client_body_timeout"; write a time such as 30s, 500ms or 1m`)
      // nginx would time every body out at once.
      else if (ms === 0) report.fulcrum(d, 'client_body_timeout 0 is not supported; give a time such as 60s')
      else level.bodyTimeout = ms
      break
    }
    case 'set_real_ip_from': {
      const from = d.args[0]
      if (from === 'unix:') {
        report.warn(d, 'set_real_ip_from unix: has no effect: Fulcrum does not listen on UNIX-domain sockets')
        break
      }
      const checked = from === 'all' ? undefined : checkAccessRule(from)
      if (checked === undefined) {
        if (/^[\d.:/]+$/.test(from) || from === 'all') report.nginx(d, `host not found in set_real_ip_from "${from}"; write an address or a CIDR such as 10.0.0.0/8`)
        else report.fulcrum(d, `set_real_ip_from "${from}": Fulcrum trusts addresses and CIDRs only; write the addresses the name resolves to`)
        break
      }
      if (checked.warning !== undefined) report.warn(d, checked.warning)
      ;(level.realIpFrom ??= []).push({ from, at: d })
      break
    }
    case 'real_ip_header':
      level.realIpHeader = { name: d.args[0], at: d }
      break
    case 'real_ip_recursive':
      level.realIpRecursive = d.args[0] === 'on'
      break
    default:
      return false
  }
  return true
}

/** `limit_req zone=NAME [burst=N] [nodelay | delay=N]`; the last of nodelay and delay= wins, as in nginx. */
function readLimitReq(d: Directive, report: Report): LimitReq | undefined {
  let zone: string | undefined
  let burst = 0
  let delay = 0
  let nodelay = false
  for (const arg of d.args) {
    const [name, value] = splitParam(arg)
    if (name === 'zone=') zone = value
    else if (name === 'burst=' || name === 'delay=') {
      const n = /^\d+$/.test(value) ? Number(value) : 0
      if (n < 1) {
        report.nginx(d, `invalid ${name.slice(0, -1)} value "${arg}"; write a number of requests of at least 1`)
        return undefined
      }
      if (name === 'burst=') burst = n
      else {
        delay = n
        nodelay = false
      }
    } else if (arg === 'nodelay') {
      nodelay = true
      delay = 0
    } else {
      report.nginx(d, `invalid parameter "${arg}" in "limit_req"; write limit_req zone=NAME [burst=N] [nodelay | delay=N]`)
      return undefined
    }
  }
  if (zone === undefined || zone === '') {
    report.nginx(d, '"limit_req" must have "zone" parameter; write limit_req zone=NAME [burst=N] [nodelay | delay=N]')
    return undefined
  }
  return { zone, burst, delay, nodelay, at: d }
}

/** `limit_conn ZONE NUMBER`; `seen` are the level's earlier ones (a zone once per level). */
export function readLimitConn(d: Directive, seen: readonly LimitConn[], report: Report): LimitConn | undefined {
  const [zone, number] = d.args
  const count = /^\d+$/.test(number) ? Number(number) : 0
  if (count < 1) {
    report.nginx(d, `invalid number of connections "${number}" in "limit_conn"; write limit_conn ZONE NUMBER with a NUMBER of at least 1`)
    return undefined
  }
  const twice = seen.find((l) => l.zone === zone)
  if (twice !== undefined) {
    report.nginx(d, `"limit_conn" directive is duplicate (zone "${zone}" on line ${twice.at.line}); keep one`)
    return undefined
  }
  return { zone, count, at: d }
}

function splitParam(arg: string): [string, string] {
  const eq = arg.indexOf('=')
  return eq < 0 ? [arg, ''] : [arg.slice(0, eq + 1), arg.slice(eq + 1)]
}

export interface Zone {
  kind: 'limit_req_zone' | 'limit_conn_zone'
  name: string
  key: string
  /** limit_req_zone: Fulcrum's form ("10r/s", "600r/m"). */
  rate: string
  maxKeys: number
  at: Directive
}

/** The `limit_req_zone` and `limit_conn_zone` of an http (or stream) block, by name, checked as nginx -t does. */
export function readZones(body: readonly Directive[], valid: (d: Directive) => boolean, report: Report): Map<string, Zone> {
  const zones = new Map<string, Zone>()
  for (const d of body) {
    if ((d.name !== 'limit_req_zone' && d.name !== 'limit_conn_zone') || !valid(d)) continue
    const zone = readZone(d, report)
    if (zone === undefined) continue
    const first = zones.get(zone.name)
    if (first === undefined) zones.set(zone.name, zone)
    else if (first.kind !== zone.kind) report.nginx(d, `the shared memory zone "${zone.name}" is already declared for a different use (${first.kind} on line ${first.at.line}); give it another name`)
    else report.nginx(d, `${zone.kind} "${zone.name}" is already bound to key "${first.key}" (line ${first.at.line}); give it another name`)
  }
  return zones
}

function readZone(d: Directive, report: Report): Zone | undefined {
  const kind = d.name as Zone['kind']
  const [key, ...params] = d.args
  let name: string | undefined
  let size = 0
  // nginx: a rate without unit is per second; without rate=, 1r/s.
  let rate = '1r/s'
  for (const param of params) {
    const [head, value] = splitParam(param)
    if (head === 'zone=') {
      const colon = value.indexOf(':')
      const bytes = colon < 0 ? undefined : parseSize(value.slice(colon + 1))
      if (bytes === undefined) {
        report.nginx(d, `invalid zone size "${param}"; write zone=NAME:SIZE, such as zone=${colon < 0 ? value : value.slice(0, colon)}:10m`)
        return undefined
      }
      if (bytes < MIN_ZONE) {
        report.nginx(d, `zone "${param}" is too small; give it at least 32k`)
        return undefined
      }
      name = value.slice(0, colon)
      size = bytes
    } else if (head === 'rate=' && kind === 'limit_req_zone') {
      const m = /^(\d+)(r\/s|r\/m)?$/.exec(value)
      if (m === null || Number(m[1]) === 0) {
        report.nginx(d, `invalid rate "${param}"; write a whole number of requests per second or minute, such as rate=10r/s or rate=30r/m`)
        return undefined
      }
      rate = `${Number(m[1])}${m[2] ?? 'r/s'}`
    } else {
      report.nginx(d, `invalid parameter "${param}" in "${kind}"`)
      return undefined
    }
  }
  if (name === undefined || name === '') {
    report.nginx(d, `"${kind}" must have "zone" parameter; write ${kind} KEY zone=NAME:SIZE${kind === 'limit_req_zone' ? ' rate=RATE' : ''}`)
    return undefined
  }
  return { kind, name, key, rate, maxKeys: Math.max(1, Math.round(size / STATE_BYTES)), at: d }
}

/** A whole-variable key, `$x` or `${x}`, as `$x`; other keys unchanged. */
export function plainKey(key: string): string {
  const braced = /^\$\{([A-Za-z0-9_]+)\}$/.exec(key)
  return braced === null ? key : `$${braced[1]}`
}

export type ConnLimits = { perClient?: number; total?: number; status: number }

/** The limit_conn of a level as Fulcrum's connectionLimits; undefined without any (or when a zone's key is not supported). */
export function connectionLimitsOf(list: readonly LimitConn[] | undefined, status: number | undefined, zones: ReadonlyMap<string, Zone>, report: Report): ConnLimits | undefined {
  let perClient: number | undefined
  let total: number | undefined
  for (const limit of list ?? []) {
    const zone = zones.get(limit.zone)
    if (zone === undefined || zone.kind !== 'limit_conn_zone') continue
    const key = plainKey(zone.key)
    // Several limits of one kind all hold: the smallest decides.
    if (CLIENT_KEYS.has(key)) perClient = Math.min(perClient ?? Infinity, limit.count)
    else if (SERVER_KEYS.has(key)) total = Math.min(total ?? Infinity, limit.count)
    else report.fulcrum(zone.at, `limit_conn_zone ${zone.name}: the key "${zone.key}" is not supported; Fulcrum counts connections per client address ($binary_remote_addr, $remote_addr) or per listener ($server_name, $server_addr, $server_port)`)
  }
  if (perClient === undefined && total === undefined) return undefined
  return { ...(perClient !== undefined ? { perClient } : {}), ...(total !== undefined ? { total } : {}), status: status ?? NGINX_STATUS }
}
