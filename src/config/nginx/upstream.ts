/**
 * `upstream NAME { … }` blocks: servers with their parameters and the balancing method, checked as nginx
 * checks them. Each becomes the base of one or more target groups (see groups.ts).
 */
import type { Report } from './problems.ts'
import type { Directive } from './syntax.ts'
import { joinHostPort, parseHostPort, parseTime } from './values.ts'

export interface UpstreamServer {
  address: string
  host: string
  weight: number
  maxFails: number
  failTimeout: number
  maxConns: number
  backup: boolean
  down: boolean
  directive: Directive
}

export interface Upstream {
  name: string
  directive: Directive
  servers: UpstreamServer[]
  algorithm: 'round-robin' | 'least-conn' | 'ip-hash' | 'hash' | 'random' | 'p2c'
  hashKey?: string
  /** `keepalive_timeout` inside the upstream: how long an idle connection is kept (nginx default 60s). */
  keepAliveTimeout?: number
  /** Where the balancing method was set, for messages. */
  methodAt?: Directive
}

/** nginx's defaults for a server line: weight=1 max_fails=1 fail_timeout=10s max_conns=0. */
const DEFAULTS = { weight: 1, maxFails: 1, failTimeout: 10_000, maxConns: 0 }

/**
 * Reads one upstream block. `valid` says which of its directives passed the structural check; a misplaced
 * block is read with every directive of the right shape, to learn its name and servers.
 */
export function readUpstream(block: Directive, valid: (d: Directive) => boolean, report: Report): Upstream {
  const upstream: Upstream = { name: block.args[0] ?? '', directive: block, servers: [], algorithm: 'round-robin' }
  const method = (d: Directive, algorithm: Upstream['algorithm'], hashKey?: string) => {
    // nginx: "load balancing method redefined" is a warning, and the last one wins.
    if (upstream.methodAt !== undefined) report.warn(d, `load balancing method redefined (first on line ${upstream.methodAt.line}); "${d.name}" wins`)
    upstream.algorithm = algorithm
    upstream.hashKey = hashKey
    upstream.methodAt = d
  }
  for (const d of block.block ?? []) {
    if (!valid(d) || d.block !== undefined) continue
    switch (d.name) {
      case 'server': {
        if (d.args.length === 0) break
        const server = readServer(d, report)
        if (server !== undefined) upstream.servers.push(server)
        break
      }
      case 'least_conn':
        method(d, 'least-conn')
        break
      case 'ip_hash':
        method(d, 'ip-hash')
        break
      case 'hash':
        if (d.args.length === 0 || d.args.length > 2) break
        if (d.args.length === 2 && d.args[1] !== 'consistent') {
          report.nginx(d, `invalid parameter "${d.args[1]}" in "hash"; write hash KEY [consistent]`)
          break
        }
        if (!d.args[0].includes('$')) {
          report.fulcrum(d, `hash "${d.args[0]}" has no variable, so every request would go to one server; hash a variable such as $request_uri or $remote_addr`)
          break
        }
        method(d, 'hash', d.args[0])
        break
      case 'random':
        if (d.args.length === 0) method(d, 'random')
        else if (d.args[0] !== 'two' || (d.args.length === 2 && d.args[1] !== 'least_conn')) {
          report.nginx(d, `invalid parameter "${d.args.find((a, i) => a !== ['two', 'least_conn'][i])}" in "random"; write random [two [least_conn]]`)
        } else method(d, 'p2c') // two random servers, the one with fewer active connections (least_conn is the default)
        break
      case 'keepalive_timeout': {
        if (d.args.length !== 1) break
        const ms = parseTime(d.args[0])
        if (ms === undefined) report.nginx(d, `invalid value "${d.args[0]}" in "keepalive_timeout"; write a time such as 60s`)
        else upstream.keepAliveTimeout = ms
        break
      }
    }
  }
  if (upstream.servers.length === 0) report.nginx(block, `no servers are inside upstream "${upstream.name}"; add server ADDRESS; lines`)
  const noBackup = upstream.algorithm === 'hash' || upstream.algorithm === 'ip-hash' || upstream.algorithm === 'random' || upstream.algorithm === 'p2c'
  if (noBackup) {
    for (const s of upstream.servers.filter((s) => s.backup)) {
      report.nginx(s.directive, `balancing method "${upstream.methodAt?.name}" (line ${upstream.methodAt?.line}) does not support parameter "backup"`)
    }
  }
  // Fulcrum keeps max_fails/fail_timeout per target group, not per server.
  const live = upstream.servers.filter((s) => !s.down)
  for (const s of live.slice(1)) {
    const first = live[0]
    if (s.maxFails !== first.maxFails || s.failTimeout !== first.failTimeout) {
      report.fulcrum(s.directive, `max_fails/fail_timeout differ from the first server's (line ${first.directive.line}); Fulcrum sets them for the whole upstream, so give every server the same values`)
      break
    }
  }
  return upstream
}

function readServer(d: Directive, report: Report): UpstreamServer | undefined {
  const [address, ...params] = d.args
  if (address.startsWith('unix:')) {
    report.fulcrum(d, `server "${address}": UNIX-domain sockets are not supported yet; use host:port`)
    return undefined
  }
  const parsed = parseHostPort(address, 80, false)
  if (parsed === undefined || parsed.host === undefined) {
    report.nginx(d, `invalid address "${address}" in upstream "server"; write HOST:PORT such as 10.0.0.1:8080`)
    return undefined
  }
  const server: UpstreamServer = {
    address: joinHostPort(parsed.host, parsed.port), host: parsed.host, ...DEFAULTS, backup: false, down: false, directive: d,
  }
  for (const param of params) {
    const eq = param.indexOf('=')
    const key = eq < 0 ? param : param.slice(0, eq)
    const value = eq < 0 ? undefined : param.slice(eq + 1)
    const int = (min: number) => (value !== undefined && /^\d+$/.test(value) && Number(value) >= min ? Number(value) : undefined)
    let ok = true
    switch (key) {
      case 'weight': {
        const n = int(1)
        if (n === undefined) ok = false
        else server.weight = n
        break
      }
      case 'max_fails': {
        const n = int(0)
        if (n === undefined) ok = false
        else server.maxFails = n
        break
      }
      case 'max_conns': {
        const n = int(0)
        if (n === undefined) ok = false
        else server.maxConns = n
        break
      }
      case 'fail_timeout': {
        const ms = value === undefined ? undefined : parseTime(value)
        if (ms === undefined) ok = false
        else server.failTimeout = ms
        break
      }
      case 'backup':
      case 'down':
        if (value !== undefined) ok = false
        else server[key] = true
        break
      default:
        ok = false
    }
    if (!ok) {
      report.nginx(d, `invalid parameter "${param}" in upstream "server"; parameters are weight=N max_fails=N fail_timeout=TIME max_conns=N backup down`)
      return undefined
    }
  }
  return server
}
