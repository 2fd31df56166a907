/**
 * The engine of `fulcrum explain`: for one request and a configuration, which listener, route and target
 * group take it and which target the group's algorithm would pick, with the reason for everything passed
 * over. Pure but for the clock: the caller brings the live target states (from the admin API) or none.
 *
 * The pick is the balancer's own: the model is built with `buildModel` and the target chosen by
 * `TargetGroup.pick` after the live states are set, so explain cannot disagree with the running code
 * about eligibility or algorithms. The reasons for skipped targets are phrased here.
 */
import { isIP } from 'node:net'
import type { RequestFacts } from '../balancing/algorithm.ts'
import { parseListenAddress } from '../config/address.ts'
import { httpListeners, type Config, type HttpListenerConfig, type RouteConfig } from '../config/schema.ts'
import { buildModel, type ListenerModel, type RouteAction } from '../model/build.ts'
import type { RouteExtras } from '../model/route-extras.ts'
import { validHost } from '../router/nginx.ts'
import { normalizeUri } from '../router/uri.ts'
import type { GroupTarget, TargetGroup } from '../targets/target-group.ts'
import { admits, healthMode, HealthStore, type HealthMode, type HealthStateName } from '../targets/target-health.ts'
import { TargetStateStore } from '../targets/target-state.ts'
import { explainLocations, explainServer, flattenLocations } from './explain-nginx.ts'
import { explainRoutes, type RouteVerdict } from './explain-route.ts'
import type { StatusView } from './status.ts'

export interface ExplainRequest {
  readonly method: string
  /** The URL as given, for display. */
  readonly url: string
  /** Path and query exactly as they would be sent (no normalisation, as the router sees them). */
  readonly target: string
  readonly port: number
  readonly headers: Record<string, string | string[]>
  readonly clientIp: string
}

/** "GET https://api.example.com/v1/users" (or only the URL: GET), with `--header K:V` and `--client IP`. */
export function parseRequest(text: string, headers: readonly string[] = [], client = '127.0.0.1'): ExplainRequest | { error: string } {
  const words = text.trim().split(/\s+/)
  const [method, url] = words.length === 1 ? ['GET', words[0]] : [words[0].toUpperCase(), words[1]]
  if (words.length > 3 || (words.length === 3 && !/^HTTP\/\d(\.\d)?$/i.test(words[2]))) return { error: `expected "METHOD URL", e.g. "GET https://api.example.com/v1/users"; found "${text}"` }
  const raw = /^(https?):\/\/([^/?#]*)([^#]*)/i.exec(url)
  let parsed: URL
  try {
    if (raw === null) throw new Error('not http')
    parsed = new URL(url)
  } catch {
    return { error: `"${url}" is not an http:// or https:// URL; write e.g. https://api.example.com/v1/users` }
  }
  // The path as typed: `new URL` would resolve "/a/../b" and re-encode, which the router never does.
  const pathAndQuery = raw[3] === '' ? '/' : raw[3].startsWith('?') ? `/${raw[3]}` : raw[3]
  const port = parsed.port !== '' ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80
  const out: Record<string, string | string[]> = { host: parsed.host }
  const given = new Set<string>()
  for (const h of headers) {
    const colon = h.indexOf(':')
    if (colon < 1) return { error: `--header needs NAME:VALUE, e.g. --header "x-user-id: 42"; found "${h}"` }
    const name = h.slice(0, colon).trim().toLowerCase()
    const value = h.slice(colon + 1).trim()
    const before = out[name]
    // A header given twice is sent twice (node joins all but set-cookie into one list, as here).
    out[name] = !given.has(name) || before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value]
    given.add(name)
  }
  if (isIP(client) === 0) return { error: `--client needs an IP address such as 10.0.0.1; found "${client}"` }
  return { method, url, target: pathAndQuery, port, headers: out, clientIp: client }
}

export interface TargetVerdict {
  readonly address: string
  readonly state: HealthStateName
  readonly inFlight: number
  readonly weight: number
  readonly backup: boolean
  readonly eligible: boolean
  /** Why it may not take the request now; "" when eligible. */
  readonly reason: string
}

export interface GroupExplanation {
  readonly name: string
  readonly algorithm: string
  /** This group's share of the route's requests (1 for a single group). */
  readonly share: number
  readonly target: string | null
  readonly mode: string
  readonly targets: readonly TargetVerdict[]
  readonly note: string
}

export interface Explanation {
  readonly request: ExplainRequest
  readonly listener: { readonly name: string; readonly listen: string; readonly port: number; readonly chosenBy: string }
  /** On a listener with virtual hosts: the server chosen and why, and the normalised URI locations match. */
  readonly server: { readonly names: readonly string[]; readonly how: string } | null
  readonly uri: string | null
  /** The routes (or locations) looked at, in order. */
  readonly routes: readonly RouteVerdict[]
  readonly route: { readonly label: string; readonly description: string } | null
  /** What the listener does: forward to `groups`, redirect, respond, or 404/403/400. */
  readonly outcome: string
  readonly groups: readonly GroupExplanation[]
  /** The target of the first (heaviest) group, or null. */
  readonly target: string | null
  readonly notes: readonly string[]
}

/** The live view explain uses; undefined = the admin API was not reached: all healthy, nothing in flight. */
export type Live = Pick<StatusView, 'listeners' | 'targetGroups'> | undefined

/** What selection found: the route or location, and how it was chosen. */
interface Selection {
  readonly server: Explanation['server']
  readonly uri: string | null
  readonly verdicts: readonly RouteVerdict[]
  readonly action: RouteAction | undefined
  /** The route's or location's `forward` as written: the weights of a split. */
  readonly forward?: RouteConfig['forward']
  /** An answer decided before any route: a bad Host or URI (400). */
  readonly early?: string
  /** nginx's auto redirect of "/x" to "/x/". */
  readonly slashRedirect?: boolean
  /** Access rules and the like of the route or location taken, or of the listener or server when none is. */
  readonly extras: RouteExtras | undefined
}

export function explainRequest(config: Config, req: ExplainRequest, live: Live, now = performance.now()): Explanation | { error: string } {
  const notes: string[] = []
  const chosen = chooseListener(httpListeners(config), req.port, live)
  if ('error' in chosen) return chosen
  const { listener, chosenBy } = chosen
  const health = new HealthStore(() => now)
  const store = new TargetStateStore()
  const model = buildModel(withLiveTargets(config, live, health, store, notes), store, health)
  const lm = model.listeners.find((l): l is ListenerModel => l.kind === 'http' && l.name === listener.name)!
  const sel = lm.virtualHosts === undefined ? selectRoute(listener, lm, req, notes) : selectLocation(listener, lm.virtualHosts, req, notes)
  const { action } = sel
  const taken = sel.verdicts.find((v) => v.matched)
  const base = {
    request: req, listener: { name: listener.name, listen: String(listener.listen), port: chosen.port, chosenBy },
    server: sel.server, uri: sel.uri, routes: sel.verdicts, notes,
    route: taken === undefined ? null : { label: taken.label, description: taken.description },
  }
  const answer = (outcome: string): Explanation => ({ ...base, outcome, groups: [], target: null })
  if (sel.early !== undefined) return answer(sel.early)
  // In the listener's order: the body limit (no body here), the auto redirect, allow/deny, 404, the action.
  if (sel.slashRedirect === true) return answer(`redirect 301 to ${sel.uri}/ (nginx's auto redirect to the forwarding location ${sel.uri}/)`)
  if (sel.extras?.access !== undefined && !sel.extras.access.allows(req.clientIp)) return answer(`403: the access rules deny the client ${req.clientIp}`)
  if (action === undefined || (action.kind === 'respond' && action.notFound === true)) {
    return answer(`no ${lm.virtualHosts === undefined ? 'route' : 'location'} matches: the listener answers 404`)
  }
  if (action.kind === 'redirect') return answer(`redirect ${action.status} to ${action.location}`)
  if (action.kind === 'respond') return answer(`respond ${action.status}${action.template === undefined ? ` (${action.body.length} bytes)` : ' (a template)'}`)
  const facts: RequestFacts = { method: req.method, url: req.target, clientIp: req.clientIp, headers: req.headers }
  const weights = typeof sel.forward === 'object' ? sel.forward : undefined
  const total = weights === undefined ? 1 : Object.values(weights).reduce((a, b) => a + b, 0)
  // The chooser's first answer is the heaviest group: list that one first, as "the" group of the request.
  const first = action.groups.choose()
  const ordered = [first, ...action.groups.groups.filter((g) => g !== first)]
  const groups = ordered.map((g) => explainGroup(g, facts, now, weights === undefined ? 1 : (weights[g.name] ?? 0) / total))
  const outcome = groups.length === 1 ? `forward to target group ${groups[0].name}`
    : `forward by weight: ${groups.map((g) => `${g.name} ${Math.round(g.share * 1000) / 10}%`).join(', ')} (smooth weighted round robin)`
  return { ...base, outcome, groups, target: groups[0].target }
}

/** Routes: first match wins; the router decides, explain-route says why. */
function selectRoute(listener: HttpListenerConfig, lm: ListenerModel, req: ExplainRequest, notes: string[]): Selection {
  const routeReq = { method: req.method, url: req.target, headers: req.headers }
  const { verdicts, taken } = explainRoutes(listener.routes, routeReq)
  const action = lm.router.match(routeReq)
  if (action?.index !== taken) notes.push(`the router takes route ${action?.index ?? 'none'} where this explanation says ${taken ?? 'none'}; the router decides`)
  const forward = action === undefined ? undefined : listener.routes[action.index]?.forward
  return { server: null, uri: null, verdicts, action, forward, extras: action === undefined ? lm.fallback : action.extras }
}

/** Virtual hosts, as the listener does: a bad Host or URI is 400, then server_name, then the location. */
function selectLocation(listener: HttpListenerConfig, servers: NonNullable<ListenerModel['virtualHosts']>, req: ExplainRequest, notes: string[]): Selection {
  const hosts = listener.virtualHosts ?? []
  const raw = req.headers.host
  const host = validHost(Array.isArray(raw) ? raw[0] : raw)
  const server = explainServer(hosts, host)
  const names = hosts[server.index].names
  const vhost = host === undefined ? servers.default : servers.select(host)
  if (vhost.serverName !== (names[0] ?? '')) notes.push(`the router chose the server named "${vhost.serverName}"; the locations shown are those of the server this explanation chose`)
  const uri = host === undefined ? undefined : normalizeUri(req.target)
  const base = { server: { names, how: server.how }, verdicts: [], extras: vhost.fallback }
  if (host === undefined) return { ...base, uri: null, action: undefined, early: '400: the Host header is not a valid host name' }
  if (uri === undefined) return { ...base, uri: null, action: undefined, early: '400: the path has a bad escape, a control byte, or climbs above /' }
  const found = vhost.locations.find(uri)
  const firstIndex = flattenLocations(hosts.slice(0, server.index)).length
  const forward = found === undefined ? undefined : flattenLocations(hosts)[found.value.index]?.forward
  const verdicts = explainLocations(hosts[server.index], firstIndex, uri, found?.value.index)
  return { ...base, uri, verdicts, action: found?.value, forward, slashRedirect: found?.redirect, extras: found?.value.extras ?? vhost.fallback }
}

function chooseListener(listeners: readonly HttpListenerConfig[], port: number, live: Live): { listener: HttpListenerConfig; port: number; chosenBy: string } | { error: string } {
  if (listeners.length === 0) return { error: 'the config has no http or https listener; explain follows an HTTP request (tcp, udp and tls-passthrough listeners forward to their one group)' }
  const portOf = (l: HttpListenerConfig): number => {
    const configured = parseListenAddress(l.listen)
    const p = 'error' in configured ? 0 : configured.port
    // Port 0 means "any free port": only the running balancer knows which one it got.
    return p !== 0 ? p : live?.listeners.find((x) => x.name === l.name)?.port ?? 0
  }
  const byPort = listeners.filter((l) => portOf(l) === port)
  if (byPort.length === 1) return { listener: byPort[0], port, chosenBy: `by the URL's port ${port}` }
  if (byPort.length > 1) {
    return { listener: byPort[0], port, chosenBy: `by the URL's port ${port}, the first of ${byPort.map((l) => l.name).join(', ')} (which one a request reaches depends on the address it is sent to)` }
  }
  if (listeners.length === 1) return { listener: listeners[0], port: portOf(listeners[0]), chosenBy: `the only listener (the URL's port ${port} is not its port ${portOf(listeners[0])})` }
  const list = listeners.map((l) => `${l.name} on ${portOf(l)}`).join(', ')
  return { error: `no listener on port ${port} (listeners: ${list}); put the port in the URL, e.g. http://host:${portOf(listeners[0])}/` }
}

/**
 * The file's configuration with each group's targets as the running balancer has them (the file's, plus
 * those registered by API, minus those it no longer has), their states set in `health` and their requests
 * in flight in `store`. Without a live view every target is healthy with nothing in flight.
 */
function withLiveTargets(config: Config, live: Live, health: HealthStore, store: TargetStateStore, notes: string[]): Config {
  const targetGroups: Record<string, Config['targetGroups'][string]> = {}
  for (const [name, g] of Object.entries(config.targetGroups)) {
    const running = live?.targetGroups.find((x) => x.name === name)
    if (running === undefined) {
      if (live !== undefined) notes.push(`target group ${name} is not in the running balancer: its targets are taken as healthy`)
      for (const t of g.targets) health.set(name, t.address, 'healthy')
      targetGroups[name] = g
      continue
    }
    const fileTargets = new Map(g.targets.map((t) => [t.address, t]))
    const targets = []
    for (const t of running.targets) {
      const fromFile = fileTargets.get(t.address)
      targets.push({ address: t.address, weight: t.weight, maxConns: fromFile?.maxConns ?? 0, backup: fromFile?.backup ?? false })
      health.set(name, t.address, t.state as HealthStateName)
      store.get(t.address).inFlight = t.inFlight
    }
    for (const t of g.targets) {
      if (!running.targets.some((r) => r.address === t.address)) notes.push(`${name} ${t.address} is in the file but not in the running balancer (deregistered, or added since the last reload): left out`)
    }
    targetGroups[name] = { ...g, targets }
  }
  return { ...config, targetGroups }
}

function explainGroup(group: TargetGroup, facts: RequestFacts, now: number, share: number): GroupExplanation {
  const sticky = group.stickiness?.requested(facts.headers) ?? undefined
  const target = group.pick(facts, undefined, now, sticky)?.address ?? null
  // One mode for the whole group, backups included, as TargetGroup decides.
  const mode = healthMode(group.targets.map((t) => t.health.state), group.config.failOpen)
  const primaryCan = group.primaries.some((t) => whyNot(t, mode) === '')
  const targets = group.targets.map((t): TargetVerdict => {
    let reason = whyNot(t, mode)
    if (reason === '' && t.backup && primaryCan) reason = 'backup: takes requests only when no primary can'
    return { address: t.address, state: t.health.state, inFlight: t.state.inFlight, weight: t.weight, backup: t.backup, eligible: reason === '', reason }
  })
  let note = algorithmNote(group, facts)
  if (sticky != null) note = `the stickiness cookie names ${sticky.address}; ${sticky.address === target ? 'it is eligible, so it takes the request' : 'it cannot take the request, so the algorithm picks'}`
  return { name: group.name, algorithm: group.config.algorithm, share, target, mode: MODE_TEXT[mode], targets, note }
}

const MODE_TEXT: Record<HealthMode, string> = {
  healthy: 'healthy targets take requests',
  initial: 'no target is healthy yet: targets awaiting their first verdict (initial) take requests',
  'fail-open': 'every target is unhealthy and failOpen is on: unhealthy targets take requests',
  none: 'no target may take requests: the request would get 503',
}

/** Why a target may not take a request in a tier in `mode` ("" when it may), as TargetGroup decides it. */
function whyNot(t: GroupTarget, mode: HealthMode): string {
  if (!admits(mode, t.health.state)) {
    if (t.health.state === 'draining') return 'draining: deregistered, takes no new requests'
    if (t.health.state === 'unused') return 'unused'
    return mode === 'none' ? `${t.health.state}: no target of the group may take requests` : `${t.health.state}: ${MODE_TEXT[mode]}`
  }
  if (t.maxConns !== 0 && t.state.inFlight >= t.maxConns) return `at maxConns: ${t.state.inFlight} in flight, maxConns ${t.maxConns}`
  return ''
}

/** What the pick shown means for each algorithm: which parts are certain and which depend on live state. */
function algorithmNote(group: TargetGroup, facts: RequestFacts): string {
  switch (group.config.algorithm) {
    case 'round-robin': return 'round-robin: shown is the first turn of a fresh rotation; the running balancer is somewhere in its rotation, so each eligible target comes in proportion to its weight'
    case 'least-conn': return 'least-conn: fewest requests in flight relative to weight; ties go by round robin'
    case 'least-time': return 'least-time: response times are not in the status API, so none is assumed measured; the running balancer also weighs each target\'s response time'
    case 'random': return 'random: a weighted random draw; another eligible target may be drawn'
    case 'p2c': return 'p2c: the better of two targets drawn at random by weight; another eligible target may be drawn'
    case 'ip-hash': return `ip-hash: the client address ${facts.clientIp} always goes to this target while it is eligible`
    case 'hash': {
      const key = group.config.hashKey ?? ''
      if (!hasKey(key, facts)) return `hash of ${key}: this request has no such key, so round robin picks`
      return `hash of ${key}: a request with the same key always goes to this target while it is eligible`
    }
  }
}

function hasKey(key: string, facts: RequestFacts): boolean {
  if (key.startsWith('header:')) return facts.headers[key.slice(7).toLowerCase()] !== undefined
  if (key.startsWith('cookie:')) {
    const cookie = facts.headers.cookie
    return (Array.isArray(cookie) ? cookie.join('; ') : cookie ?? '').split(';').some((c) => c.trim().startsWith(`${key.slice(7)}=`))
  }
  return true
}
