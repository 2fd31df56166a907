/**
 * The directives a level (http, server, location) sets, and nginx's inheritance: a value set at a level
 * holds for the levels inside it unless they set their own; list directives (proxy_set_header,
 * add_header, allow/deny, access_log, limit_req, limit_conn, set_real_ip_from) are inherited only by a
 * level that has none of its own.
 */
import { RETRY_CONDITIONS } from '../schema.ts'
import type { RetryCondition } from '../schema.ts'
import type { Report } from './problems.ts'
import { readProtectionDirective } from './protection-directives.ts'
import type { ProtectionLevel } from './protection-directives.ts'
import type { Directive } from './syntax.ts'
import { checkAccessRule, parseSize, parseTime } from './values.ts'

export type AccessRule = { allow: string } | { deny: string }
export type AccessLog = 'off' | { path: string; format: string; at: Directive }

/** Rate and connection limits, head and body limits, the real IP: read by protection-directives.ts, written by protection.ts. */
export interface Level extends ProtectionLevel {
  setHeaders?: { name: string; value: string }[]
  addHeaders?: { name: string; value: string; always: boolean }[]
  access?: AccessRule[]
  accessLogs?: AccessLog[]
  maxBody?: number
  nextUpstream?: { on: RetryCondition[]; nonIdempotent: boolean; off: boolean }
  tries?: number
  retryTimeout?: number
  connect?: number
  read?: number
  httpVersion?: '1.0' | '1.1'
  passRequestHeaders?: boolean
  defaultType?: string
  keepAlive?: { ms: number; at: Directive }
  headerTimeout?: number
  /** proxy_ssl_verify on (nginx's default is off). */
  sslVerify?: boolean
}

/** nginx's own log format. */
export const COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'

/**
 * The settings of `inner`, with `outer`'s where `inner` sets none. A list counts as set when the level has
 * any entry, so lists are inherited whole or not at all, as in nginx.
 */
export function inherit(outer: Level, inner: Level): Level {
  const merged: Level = { ...outer }
  for (const [key, value] of Object.entries(inner) as [keyof Level, unknown][]) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value
  }
  return merged
}

/** Reads the settings a block's own directives make (not those of blocks inside it). */
export function readLevel(
  block: readonly Directive[], valid: (d: Directive) => boolean, report: Report, logFormats: ReadonlyMap<string, string>,
): Level {
  const level: Level = {}
  const time = (d: Directive): number | undefined => {
    const ms = parseTime(d.args[0])
    if (ms === undefined) report.nginx(d, `invalid value "${d.args[0]}" in "${d.name}"; write a time such as 30s, 500ms or 1m`)
    return ms
  }
  for (const d of block) {
    if (!valid(d)) continue
    switch (d.name) {
      case 'proxy_set_header':
        (level.setHeaders ??= []).push({ name: d.args[0], value: d.args[1] })
        break
      case 'add_header':
        if (d.args.length === 3 && d.args[2] !== 'always') {
          report.nginx(d, `invalid parameter "${d.args[2]}" in "add_header"; only "always" may follow the value`)
          break
        }
        (level.addHeaders ??= []).push({ name: d.args[0], value: d.args[1], always: d.args.length === 3 })
        break
      case 'allow':
      case 'deny': {
        const checked = checkAccessRule(d.args[0])
        if (checked === undefined) {
          report.nginx(d, `invalid parameter "${d.args[0]}" in "${d.name}"; write an address, a CIDR such as 10.0.0.0/8, or all`)
          break
        }
        if (checked.warning !== undefined) report.warn(d, checked.warning)
        ;(level.access ??= []).push(d.name === 'allow' ? { allow: d.args[0] } : { deny: d.args[0] })
        break
      }
      case 'access_log': {
        const log = readAccessLog(d, report, logFormats)
        if (log !== undefined) (level.accessLogs ??= []).push(log)
        break
      }
      case 'client_max_body_size': {
        const bytes = parseSize(d.args[0])
        if (bytes === undefined) report.nginx(d, `invalid value "${d.args[0]}" in "client_max_body_size"; write a size such as 10m, 512k or 0 (no limit)`)
        else level.maxBody = bytes
        break
      }
      case 'proxy_next_upstream': {
        const on: RetryCondition[] = []
        let nonIdempotent = false
        let off = false
        for (const value of d.args) {
          if (value === 'off') off = true
          else if (value === 'non_idempotent') nonIdempotent = true
          else if ((RETRY_CONDITIONS as readonly string[]).includes(value)) on.push(value as RetryCondition)
          else {
            report.nginx(d, `invalid value "${value}" in "proxy_next_upstream"; expected ${RETRY_CONDITIONS.join(', ')}, non_idempotent or off`)
            off = true
          }
        }
        level.nextUpstream = { on, nonIdempotent, off }
        break
      }
      case 'proxy_next_upstream_tries':
        if (!/^\d+$/.test(d.args[0])) report.nginx(d, `invalid value "${d.args[0]}" in "proxy_next_upstream_tries"; write a number (0 = every server once)`)
        else level.tries = Number(d.args[0])
        break
      case 'proxy_next_upstream_timeout':
        level.retryTimeout = time(d)
        break
      case 'proxy_connect_timeout':
        level.connect = time(d)
        break
      case 'proxy_ssl_verify':
        level.sslVerify = d.args[0] === 'on'
        break
      case 'proxy_read_timeout':
        level.read = time(d)
        break
      case 'proxy_send_timeout':
        time(d)
        break
      case 'proxy_http_version':
        if (d.args[0] !== '1.0' && d.args[0] !== '1.1') report.nginx(d, `invalid value "${d.args[0]}" in "proxy_http_version"; write 1.0 or 1.1`)
        else level.httpVersion = d.args[0]
        break
      case 'proxy_pass_request_headers':
        level.passRequestHeaders = d.args[0] === 'on'
        break
      case 'default_type':
        level.defaultType = d.args[0]
        break
      case 'keepalive_timeout': {
        const ms = time(d)
        if (ms === undefined) break
        if (d.args.length === 2 && parseTime(d.args[1]) === undefined) {
          report.nginx(d, `invalid value "${d.args[1]}" in "keepalive_timeout"; the second value is the Keep-Alive header's time`)
          break
        }
        if (ms === 0) report.fulcrum(d, 'keepalive_timeout 0 (no keep-alive) is not supported yet; give a time such as 5s')
        else level.keepAlive = { ms, at: d }
        if (d.args.length === 2) report.warn(d, `keepalive_timeout: the second value is not used; the "Keep-Alive: timeout=" response header carries the first`)
        break
      }
      case 'client_header_timeout': {
        const ms = time(d)
        if (ms === 0) report.fulcrum(d, 'client_header_timeout 0 is not supported; give a time such as 60s')
        else if (ms !== undefined) level.headerTimeout = ms
        break
      }
      case 'proxy_redirect':
        if (!(d.args.length === 1 && d.args[0] === 'off')) {
          report.fulcrum(d, 'proxy_redirect is not supported yet except "proxy_redirect off" (what Fulcrum does: Location headers pass unchanged)')
        }
        break
      default:
        readProtectionDirective(d, level, report)
    }
  }
  return level
}

function readAccessLog(d: Directive, report: Report, formats: ReadonlyMap<string, string>): AccessLog | undefined {
  const [path, formatName, ...params] = d.args
  if (path === 'off') {
    if (d.args.length > 1) report.nginx(d, '"access_log off" takes no other arguments')
    return 'off'
  }
  if (path.startsWith('syslog:')) {
    report.fulcrum(d, 'access_log to syslog is not supported; log to a file or /dev/stdout')
    return undefined
  }
  if (path.includes('$')) {
    report.fulcrum(d, 'access_log paths with variables are not supported')
    return undefined
  }
  const name = formatName ?? 'combined'
  const format = formats.get(name)
  if (format === undefined) {
    report.nginx(d, `unknown log format "${name}"; define it with log_format ${name} '…'; (or use combined)`)
    return undefined
  }
  for (const param of params) {
    if (param.startsWith('if=')) report.fulcrum(d, 'access_log … if= is not supported; every request is logged')
    else if (!/^(buffer=|flush=|gzip(=|$))/.test(param)) report.nginx(d, `invalid parameter "${param}" in "access_log"`)
  }
  return { path, format, at: d }
}

/** log_format NAME [escape=…] STRING…: the template, the strings joined as nginx joins them. */
export function readLogFormats(http: readonly Directive[], valid: (d: Directive) => boolean, report: Report): Map<string, string> {
  const formats = new Map<string, string>([['combined', COMBINED]])
  for (const d of http) {
    if (d.name !== 'log_format' || !valid(d)) continue
    const [name, ...rest] = d.args
    if (formats.has(name)) {
      report.nginx(d, `duplicate "log_format" name "${name}"; choose another name`)
      continue
    }
    const strings = rest[0]?.startsWith('escape=') ? rest.slice(1) : rest
    if (strings.length === 0) {
      report.nginx(d, `log_format ${name} has no format string; write log_format ${name} '$remote_addr "$request" $status';`)
      continue
    }
    formats.set(name, strings.join(''))
  }
  return formats
}
