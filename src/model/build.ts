/**
 * Config -> the runtime graph a generation serves with: listeners with their compiled route tables, and
 * target groups with their algorithms. Immutable once built; a reload builds a whole new model and swaps
 * one reference. Live numbers are not here: they come from the `TargetStateStore` passed in.
 */
import { algorithms } from '../balancing/registry.ts'
import { parseListenAddress, parseTargetAddress } from '../config/address.ts'
import { redirectLocation, type Config, type HttpListenerConfig, type LocationConfig, type RouteConfig } from '../config/schema.ts'
import { Router } from '../router/match.ts'
import type { ServerTable } from '../router/nginx.ts'
import { TargetGroup } from '../targets/target-group.ts'
import type { TargetStateStore } from '../targets/target-state.ts'
import type { HealthStore } from '../targets/target-health.ts'
import type { ForwardingOptions } from '../upstream/request-headers.ts'
import { compileTemplate, type Template } from '../upstream/templates.ts'
import { GroupChooser } from './group-chooser.ts'
import { CertificateTable, hstsValue } from './tls.ts'
import { AccessCache, RouteExtras } from './route-extras.ts'
import { RateLimitZones } from '../protection/rate-limit.ts'
import { TrustPolicy } from '../protection/trusted-proxies.ts'
import { compileRateLimits, type CompiledRateLimit } from '../protection/rate-limits.ts'
import { buildVirtualHosts, type VirtualHostModel } from './virtual-hosts.ts'
import { buildDatagramListener, buildStreamListener, type DatagramListenerModel, type StreamListenerModel } from './l4.ts'

export type { DatagramListenerModel, StreamListenerModel } from './l4.ts'

/**
 * What a route (or location) does. `extras` is undefined on routes that use no extra feature (access,
 * maxBodyBytes, proxy, addHeaders, templates, nginx pages, virtual hosts): those take the plain path.
 * `index` numbers routes in order, or a listener's locations depth-first across its virtual hosts.
 */
export type RouteAction =
  | { readonly kind: 'forward'; readonly groups: GroupChooser; readonly index: number; readonly extras: RouteExtras | undefined }
  | {
    readonly kind: 'redirect'; readonly location: string; readonly status: number; readonly index: number
    /** Set when the location has variables ($host, $request_uri, …). */
    readonly template: Template | undefined
    readonly extras: RouteExtras | undefined
  }
  | {
    readonly kind: 'respond'; readonly status: number; readonly body: Buffer; readonly headers: readonly string[]; readonly index: number
    /** Set when the body has variables; `headers` then lacks content-length. */
    readonly template: Template | undefined
    readonly extras: RouteExtras | undefined
    /** A location with only nested locations, chosen itself: the listener's own 404 answer. */
    readonly notFound?: true
  }

/** An http or https listener. */
export interface ListenerModel {
  readonly kind: 'http'
  readonly name: string
  readonly config: HttpListenerConfig
  /** undefined = all addresses. */
  readonly host: string | undefined
  readonly port: number
  /** "host:port" identity of the socket (plus "/https", "+h2"), to match listeners across reloads. */
  readonly key: string
  readonly router: Router<RouteAction>
  readonly forwarding: ForwardingOptions
  /** nginx server blocks, when the listener has virtualHosts (then `router` is empty). */
  readonly virtualHosts: ServerTable<VirtualHostModel> | undefined
  /** Listener-level access, body limit and error pages, for requests no route takes; undefined when unused. */
  readonly fallback: RouteExtras | undefined
  /** https listeners: the certificates by SNI name. */
  readonly certificates: CertificateTable | undefined
  /** https listeners with hsts: the Strict-Transport-Security value. */
  readonly hsts: string | undefined
  /** Peers whose X-Forwarded-For is believed; undefined when the listener trusts none. */
  readonly trust: TrustPolicy | undefined
}

/** Any listener: HTTP, or L4 (stream: tcp and tls-passthrough; datagram: udp). */
export type AnyListenerModel = ListenerModel | StreamListenerModel | DatagramListenerModel

export interface Model {
  readonly config: Config
  readonly listeners: readonly AnyListenerModel[]
  readonly groups: ReadonlyMap<string, TargetGroup>
  /** Names of the rate-limit zones this generation uses (the others can be forgotten). */
  readonly rateLimitZones: ReadonlySet<string>
}

function must<T extends object>(parsed: T | { error: string }, what: string): T {
  if ('error' in parsed) throw new Error(`${what}: ${parsed.error}`)
  return parsed
}

/** The action parts routes and locations share. */
type ActionConfig = Pick<RouteConfig, 'forward' | 'redirect' | 'respond'> | LocationConfig

/** Whether a route's own answer (redirect location, respond body) has variables. */
export function templated(route: ActionConfig): boolean {
  return (route.redirect !== undefined && compileTemplate(redirectLocation(route.redirect)).constant === undefined)
    || (route.respond !== undefined && compileTemplate(route.respond.body).constant === undefined)
}

export function buildAction(route: ActionConfig, index: number, groups: ReadonlyMap<string, TargetGroup>,
  extras: RouteExtras | undefined): RouteAction {
  if (route.forward !== undefined) {
    const weights = typeof route.forward === 'string' ? { [route.forward]: 1 } : route.forward
    const entries = Object.entries(weights).filter(([, w]) => w > 0).map(([name, weight]) => {
      const group = groups.get(name)
      if (group === undefined) throw new Error(`route ${index} forwards to unknown target group "${name}"`)
      return { group, weight }
    })
    return { kind: 'forward', groups: new GroupChooser(entries), index, extras }
  }
  if (route.redirect !== undefined) {
    const location = redirectLocation(route.redirect)
    const template = compileTemplate(location)
    return { kind: 'redirect', location, status: route.redirect.status, index, template: template.constant === undefined ? template : undefined, extras }
  }
  if (route.respond !== undefined) {
    const r = route.respond
    const template = compileTemplate(r.body)
    const body = Buffer.from(r.body)
    // 204 and 304 carry no body, so no Content-Type or Content-Length either (RFC 9110; nginx agrees).
    const bodiless = r.status === 204 || r.status === 304
    const headers: string[] = bodiless ? [] : ['content-type', r.contentType]
    for (const [k, v] of Object.entries(r.headers)) headers.push(k, v)
    if (bodiless) return { kind: 'respond', status: r.status, body: Buffer.alloc(0), headers, index, template: undefined, extras }
    if (template.constant !== undefined) {
      headers.push('content-length', String(body.length))
      return { kind: 'respond', status: r.status, body, headers, index, template: undefined, extras }
    }
    return { kind: 'respond', status: r.status, body, headers, index, template, extras }
  }
  if ('location' in route) {
    return { kind: 'respond', status: 404, body: Buffer.alloc(0), headers: [], index, template: undefined, extras, notFound: true }
  }
  throw new Error(`route ${index} has no action`)
}

/** What builds a listener's levels: access lists shared between routes, and the rate-limit zones. */
export interface LevelBuilder {
  readonly access: AccessCache
  /** Compiles a level's rateLimit entries; `where` names the level for zones without a name. */
  rateLimits(config: RouteConfig['rateLimit'], where: string): readonly CompiledRateLimit[] | undefined
}

function buildListener(l: HttpListenerConfig, groups: ReadonlyMap<string, TargetGroup>, zones: RateLimitZones,
  usedZones: Set<string>): Pick<ListenerModel, 'router' | 'virtualHosts' | 'fallback'> {
  const access = new AccessCache()
  const levels: LevelBuilder = { access, rateLimits: (config, where) => compileRateLimits(config, `${l.name} ${where}`, zones, usedZones) }
  const nginxPages = l.errorPages === 'nginx'
  const level = {
    access: access.of(l), maxBodyBytes: l.maxBodyBytes ?? l.limits.maxBodyBytes, rateLimits: levels.rateLimits(l.rateLimit, 'listener'),
    nginxPages, serverName: '',
  }
  if (l.virtualHosts !== undefined) {
    return { router: new Router([]), virtualHosts: buildVirtualHosts(l, level, groups, levels), fallback: undefined }
  }
  const router = new Router(l.routes.map((r, i) => ({
    match: r.match,
    value: buildAction(r, i, groups, RouteExtras.of({
      ...level,
      proxy: r.proxy,
      addHeaders: r.addHeaders,
      access: access.of(r) ?? level.access,
      maxBodyBytes: r.maxBodyBytes ?? r.limits?.maxBodyBytes ?? level.maxBodyBytes,
      rateLimits: levels.rateLimits(r.rateLimit, `route ${i}`) ?? level.rateLimits,
      bodyTimeout: r.limits?.bodyTimeout,
      logged: r.accessLog,
      always: false,
      templated: templated(r),
    })),
  })))
  return { router, virtualHosts: undefined, fallback: RouteExtras.of({ ...level, always: false, templated: false }) }
}

/** Builds the model. Throws only on input that validation should have rejected. */
export function buildModel(config: Config, store: TargetStateStore, health: HealthStore, zones = new RateLimitZones()): Model {
  const usedZones = new Set<string>()
  const groups = new Map<string, TargetGroup>()
  for (const [name, g] of Object.entries(config.targetGroups)) {
    groups.set(name, new TargetGroup(name, g, store, health, algorithms[g.algorithm],
      (address) => must(parseTargetAddress(address), `target group ${name}`)))
  }
  const listeners = config.listeners.map((l): AnyListenerModel => {
    const { host, port } = must(parseListenAddress(l.listen), `listener ${l.name}`)
    // The server differs by protocol, so a listener that changes it is a new one (a restart, as the port is taken).
    const kind = l.protocol === 'https' ? `/https${l.http2 ? '+h2' : ''}` : l.protocol === 'http' ? '' : `/${l.protocol}`
    // Each port-0 listener gets its own socket: only the name tells two of them apart across reloads.
    const key = `${host ?? '*'}:${port}${kind}${port === 0 ? `#${l.name}` : ''}`
    if (l.protocol === 'udp') return buildDatagramListener(l, { name: l.name, host, port, key }, groups)
    if (l.protocol === 'tcp' || l.protocol === 'tls-passthrough') return buildStreamListener(l, { name: l.name, host, port, key }, groups)
    return {
      kind: 'http', name: l.name, config: l, host, port, key,
      ...buildListener(l, groups, zones, usedZones),
      forwarding: { forwardedHeaders: l.forwardedHeaders, requestId: l.requestId, port: String(port), proto: l.protocol },
      certificates: l.tls === undefined ? undefined : new CertificateTable(l.tls),
      hsts: hstsValue(l),
      trust: l.trustedProxies === undefined ? undefined : new TrustPolicy(l.trustedProxies),
    }
  })
  return { config, listeners, groups, rateLimitZones: usedZones }
}

