/**
 * The configuration both servers run: the user's nginx.conf (includes spliced in) printed again with its
 * addresses moved to this machine. Every upstream `server` and every direct `proxy_pass http://HOST:PORT`
 * points at a recording backend, every `listen` at a free port (one for nginx, another for Fulcrum), and
 * nginx's own files (pid, logs, temp folders) go to a temp folder. The two texts differ only in listen ports
 * and log paths, line for line, so a message about line N means the same directive in both.
 */
import { isAbsolute, join, resolve, dirname } from 'node:path'
import type { Directive } from '../../src/config/nginx/syntax.ts'
import { parseHostPort } from '../../src/config/nginx/values.ts'

export type Side = 'nginx' | 'fulcrum'

/** How an upstream picks: `exact` methods give the same sequence on both sides, `member` ones only a server of the group. */
export type Determinism = 'exact' | 'member'

export interface Upstream {
  name: string
  determinism: Determinism
  /** ip_hash and hash: the same key must reach the same server, on each side. */
  sticky: boolean
  method: string
  /** Backend keys, in the order of the server lines. */
  backends: string[]
}

/** A place a request can be sent without a request list: a server block's name and location prefixes. */
export interface Site {
  port: number
  names: string[]
  paths: string[]
}

export interface Plan {
  /** Original listen ports, in order of appearance. */
  ports: number[]
  /** Original port -> whether a request must go to ::1 (only IPv6 listens on it). */
  v6Only: Map<number, boolean>
  /** Backend keys (`host:port` as written, `localhost` read as 127.0.0.1), in order of appearance. */
  backends: string[]
  upstreams: Map<string, Upstream>
  /** Every add_header name, lower-case: the response headers the configuration sets. */
  addHeaders: Set<string>
  /** A keepalive_timeout with a second value: nginx's `Keep-Alive: timeout=N` response header. */
  keepAliveHeader: boolean
  sites: Site[]
}

export interface Ports {
  listen: Map<number, Record<Side, number>>
  backend: Map<string, number>
}

/** Where the printed copy lives and what relative paths in it meant. */
export interface Places {
  /** The temp folder: logs and nginx's temp folders go here. */
  dir: string
  /** The user's main file: certificate paths are relative to its folder. */
  mainFile: string
  /** nginx's compiled-in prefix (`nginx -V`): `load_module` paths are relative to it. */
  nginxPrefix: string
}

export interface Printed {
  text: string
  /** The access log files, in the order of their access_log directives (the same order on both sides). */
  accessLogs: string[]
  /** Line in `text` (1-based) -> the original file and line. */
  origin: Map<number, { file: string; line: number }>
}

const HASHED: Record<string, true> = { ip_hash: true, hash: true, random: true }
const METHODS = ['least_conn', 'ip_hash', 'hash', 'random']
/** Directives nginx takes from the harness (-g or inserted), and the user's copies would clash with. */
const MAIN_DROPPED = new Set(['pid', 'daemon', 'master_process', 'user', 'error_log', 'lock_file'])
const TEMP_PATHS = ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path']
const FILE_ARGS = new Set(['ssl_certificate', 'ssl_certificate_key', 'ssl_trusted_certificate', 'ssl_client_certificate', 'ssl_dhparam', 'ssl_crl', 'auth_basic_user_file'])

/** `host:port` of an upstream server or proxy_pass address, as the key of its recording backend. */
export function backendKey(address: string): string | undefined {
  const parsed = parseHostPort(address, 80, false)
  if (parsed === undefined || parsed.host === undefined) return undefined
  const host = parsed.host.toLowerCase() === 'localhost' ? '127.0.0.1' : parsed.host.toLowerCase()
  return host.includes(':') ? `[${host}]:${parsed.port}` : `${host}:${parsed.port}`
}

/** Reads what the run needs from the tree: listen ports, backends, upstreams, add_header names, sites. */
export function plan(tree: readonly Directive[]): Plan {
  const result: Plan = { ports: [], v6Only: new Map(), backends: [], upstreams: new Map(), addHeaders: new Set(), keepAliveHeader: false, sites: [] }
  const addBackend = (key: string) => { if (!result.backends.includes(key)) result.backends.push(key) }
  const http = tree.filter((d) => d.name === 'http')
  const upstreamBlocks = everywhere(tree).filter((d) => d.name === 'upstream' && d.block !== undefined)
  for (const u of upstreamBlocks) {
    const methodLine = [...(u.block ?? [])].reverse().find((d) => METHODS.includes(d.name))
    const method = methodLine?.name ?? 'round_robin'
    const upstream: Upstream = { name: u.args[0] ?? '', method, determinism: HASHED[method] ? 'member' : 'exact', sticky: method === 'ip_hash' || method === 'hash', backends: [] }
    for (const s of u.block ?? []) {
      if (s.name !== 'server' || s.args.length === 0) continue
      const key = backendKey(s.args[0])
      if (key === undefined) continue
      addBackend(key)
      upstream.backends.push(key)
    }
    result.upstreams.set(upstream.name.toLowerCase(), upstream)
  }
  for (const d of everywhere(tree)) {
    if (d.name === 'add_header' && d.args.length > 0) result.addHeaders.add(d.args[0].toLowerCase())
    if (d.name === 'keepalive_timeout' && d.args.length > 1) result.keepAliveHeader = true
    if (d.name === 'proxy_pass' && d.args.length > 0) {
      const direct = directAddress(d.args[0], result.upstreams)
      if (direct !== undefined) addBackend(direct.key)
    }
  }
  for (const server of http.flatMap((h) => h.block ?? []).filter((d) => d.name === 'server' && d.block !== undefined)) {
    const listens = (server.block ?? []).filter((d) => d.name === 'listen' && d.args.length > 0).map((d) => readListen(d.args[0]))
    if (listens.length === 0) listens.push({ port: 80, host: undefined, v6: false })
    for (const l of listens) {
      if (l === undefined) continue
      if (!result.ports.includes(l.port)) result.ports.push(l.port)
      result.v6Only.set(l.port, (result.v6Only.get(l.port) ?? true) && l.v6)
    }
    const first = listens.find((l) => l !== undefined)
    if (first === undefined) continue
    const names = (server.block ?? []).filter((d) => d.name === 'server_name').flatMap((d) => d.args)
    const paths = everywhere(server.block ?? []).filter((d) => d.name === 'location' && d.block !== undefined).map(locationPath)
    result.sites.push({ port: first.port, names: names.map(sampleName).filter((n): n is string => n !== undefined), paths: paths.filter((p): p is string => p !== undefined) })
  }
  return result
}

/** nginx's text, or Fulcrum's: the tree printed with addresses moved (see the file comment). */
export function print(tree: readonly Directive[], side: Side, ports: Ports, upstreams: Map<string, Upstream>, places: Places): Printed {
  const { dir, mainFile, nginxPrefix } = places
  const lines: string[] = []
  const origin = new Map<number, { file: string; line: number }>()
  let logs = 0
  const accessLogs: string[] = []
  const emit = (depth: number, text: string, from: Directive) => {
    lines.push(`${'    '.repeat(depth)}${text}`)
    origin.set(lines.length, { file: from.file, line: from.line })
  }
  const walk = (list: readonly Directive[], depth: number, parents: string[]) => {
    for (const d of list) {
      const context = parents[parents.length - 1] ?? 'main'
      if (context === 'main' && MAIN_DROPPED.has(d.name)) continue
      if (context === 'http' && TEMP_PATHS.includes(d.name)) continue
      let args = d.args
      if (context === 'main' && d.name === 'worker_processes') args = ['1']
      else if (d.name === 'listen' && args.length > 0) args = [moveListen(args[0], ports, side), ...args.slice(1)]
      else if (d.name === 'server' && context === 'upstream' && args.length > 0) args = [moveBackend(args[0], ports), ...args.slice(1)]
      else if (d.name === 'proxy_pass' && args.length > 0) args = [moveProxyPass(args[0], ports, upstreams), ...args.slice(1)]
      else if ((d.name === 'access_log' || d.name === 'error_log') && args.length > 0 && args[0] !== 'off' && args[0] !== 'stderr' && !args[0].startsWith('syslog:')) {
        args = [join(dir, `${side}-${d.name === 'access_log' ? 'access' : 'error'}-${++logs}.log`), ...args.slice(1)]
        if (d.name === 'access_log') accessLogs.push(args[0])
      } else if (FILE_ARGS.has(d.name) && args.length > 0 && !isAbsolute(args[0]) && !args[0].includes('$') && !args[0].startsWith('data:')) {
        args = [resolve(dirname(mainFile), args[0]), ...args.slice(1)]
      } else if (d.name === 'load_module' && args.length > 0 && !isAbsolute(args[0])) {
        // nginx runs with the temp folder as its prefix; the module is where the installed nginx looks.
        args = [resolve(nginxPrefix, args[0]), ...args.slice(1)]
      }
      const head = [d.name, ...args.map(quote)].join(' ')
      if (d.block === undefined) {
        emit(depth, `${head};`, d)
        continue
      }
      // nginx's temp folders (and its default access log, which Fulcrum does not write) go on the `http {`
      // line itself, so both texts keep the same line numbers.
      let extra = ''
      if (side === 'nginx' && d.name === 'http' && context === 'main') {
        extra = ` ${TEMP_PATHS.map((p) => `${p} ${quote(join(dir, p.replace('_temp_path', '')))};`).join(' ')}`
        if (!d.block.some((c) => c.name === 'access_log')) extra += ` access_log ${quote(join(dir, 'nginx-default-access.log'))};`
      }
      emit(depth, `${head} {${extra}`, d)
      if (d.name === 'server' && context === 'http' && !d.block.some((c) => c.name === 'listen')) {
        // nginx's default (as root) and Fulcrum's: port 80, moved like any listen.
        emit(depth + 1, `listen ${moveListen('80', ports, side)};`, d)
      }
      walk(d.block, depth + 1, [...parents, d.name])
      emit(depth, '}', d)
    }
  }
  walk(tree, 0, [])
  return { text: `${lines.join('\n')}\n`, origin, accessLogs }
}

/** A word as nginx reads it back: bare when it can be, else double-quoted with `\\` and `\"`. */
export function quote(word: string): string {
  if (/^[A-Za-z0-9_.:/=~^*$@%+,!?&|()[\]<>\-]+$/.test(word) && !word.includes('${')) return word
  return `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

type ListenAddress = { port: number; host: string | undefined; v6: boolean }

function readListen(arg: string): ListenAddress | undefined {
  if (arg.startsWith('unix:')) return undefined
  const parsed = parseHostPort(arg, 80, true)
  if (parsed === undefined) return undefined
  return { port: parsed.port, host: parsed.host, v6: parsed.host !== undefined && parsed.host.includes(':') }
}

function moveListen(arg: string, ports: Ports, side: Side): string {
  const l = readListen(arg)
  const moved = l === undefined ? undefined : ports.listen.get(l.port)?.[side]
  if (l === undefined || moved === undefined) return arg
  if (l.host === undefined) return String(moved)
  if (l.v6) return `[${l.host === '::' ? '::' : '::1'}]:${moved}`
  const local = l.host === '0.0.0.0' || l.host.startsWith('127.')
  return `${local ? l.host : '127.0.0.1'}:${moved}`
}

function moveBackend(arg: string, ports: Ports): string {
  const key = backendKey(arg)
  const port = key === undefined ? undefined : ports.backend.get(key)
  return port === undefined ? arg : `127.0.0.1:${port}`
}

/** `http://HOST[:PORT][/uri]` that is not an upstream's name: the backend key and the URI part. */
function directAddress(arg: string, upstreams: Map<string, Upstream>): { key: string; uri: string } | undefined {
  const m = /^http:\/\/([^/]+)(.*)$/i.exec(arg)
  if (m === null || arg.includes('$')) return undefined
  if (upstreams.has(m[1].toLowerCase())) return undefined
  const key = backendKey(m[1])
  return key === undefined ? undefined : { key, uri: m[2] }
}

function moveProxyPass(arg: string, ports: Ports, upstreams: Map<string, Upstream>): string {
  const direct = directAddress(arg, upstreams)
  const port = direct === undefined ? undefined : ports.backend.get(direct.key)
  return direct === undefined || port === undefined ? arg : `http://127.0.0.1:${port}${direct.uri}`
}

/** A Host that server_name takes: the name itself, a name inside a wildcard; regexes and "" are skipped. */
function sampleName(name: string): string | undefined {
  if (name === '' || name.startsWith('~')) return undefined
  if (name.startsWith('*.')) return `www${name.slice(1)}`
  if (name.startsWith('.')) return name.slice(1)
  if (name.endsWith('.*')) return `${name.slice(0, -2)}.com`
  return name
}

/** A location's path, for a request that reaches it; regex locations have none. */
function locationPath(d: Directive): string | undefined {
  const [first, second] = d.args
  if (first === undefined || first.startsWith('~') || first.startsWith('@')) return undefined
  if ((first === '=' || first === '^~') && second !== undefined) return second
  if (first.startsWith('=')) return first.slice(1) || undefined
  if (first.startsWith('^~')) return first.slice(2) || undefined
  return first
}

/** Every directive at any depth, in order. */
function everywhere(list: readonly Directive[]): Directive[] {
  const out: Directive[] = []
  const stack = [...list].reverse()
  while (stack.length > 0) {
    const d = stack.pop() as Directive
    out.push(d)
    if (d.block !== undefined) stack.push(...[...d.block].reverse())
  }
  return out
}
