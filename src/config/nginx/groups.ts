/**
 * Target groups from upstreams and direct `proxy_pass http://host:port` targets. nginx sets retries and
 * timeouts per location while Fulcrum sets them per target group, so each distinct (upstream, settings)
 * pair becomes its own group: `backend` for the first, `backend~2`, `backend~3` … for the others.
 */
import { formatDuration } from '../duration.ts'
import { configSchema } from '../schema.ts'
import type { RetryCondition } from '../schema.ts'
import type { Directive } from './syntax.ts'
import type { Upstream } from './upstream.ts'

/** What nginx sets per location that Fulcrum sets per group. Times in milliseconds. */
export interface GroupSettings {
  on: RetryCondition[]
  nonIdempotent: boolean
  /** false: proxy_next_upstream off. */
  retry: boolean
  /** proxy_next_upstream_tries; 0 = every server once. */
  tries: number
  retryTimeout: number
  connect: number
  read: number
  /** proxy_pass https://: TLS to the targets, verified only with proxy_ssl_verify on (nginx's default is off). */
  https?: { verify: boolean }
}

/**
 * Separates an upstream's name from the number of its variant: "~", which nginx upstream names do not use,
 * once the schema's group names admit it (TODO issue 4: they admit letters, digits, "_", "." and "-"), else "-".
 */
export const VARIANT_SEPARATOR = configSchema.shape.targetGroups.unwrap().keyType.safeParse('a~2').success ? '~' : '-'

type GroupInput = Record<string, unknown>

export class Groups {
  readonly #upstreams: ReadonlyMap<string, Upstream>
  readonly #byKey = new Map<string, string>()
  readonly #variants = new Map<string, number>()
  readonly #out: Record<string, GroupInput> = {}
  /** Group name -> the directive it comes from (an upstream block, or the proxy_pass of a direct target). */
  readonly origins = new Map<string, Directive>()

  constructor(upstreams: ReadonlyMap<string, Upstream>) {
    this.#upstreams = upstreams
  }

  /** The group for an upstream with these settings, created on first use. */
  forUpstream(upstream: Upstream, settings: GroupSettings): string {
    return this.#group(`u:${upstream.name}`, safeName(upstream.name), settings, upstream.directive, () => upstreamGroup(upstream, settings))
  }

  /** The group for a direct target (`proxy_pass http://10.0.0.5:8080`), an upstream of one server. */
  forAddress(address: string, settings: GroupSettings, at: Directive): string {
    const upstream: Upstream = {
      name: address, directive: at, algorithm: 'round-robin',
      servers: [{ address, host: '', weight: 1, maxFails: 1, failTimeout: 10_000, maxConns: 0, backup: false, down: false, directive: at }],
    }
    // "10.0.0.5:8080" -> "10.0.0.5-8080", "[::1]:8080" -> "__1-8080".
    const name = safeName(address.replace(/[[\]]/g, '').replace(/:(\d+)$/, '-$1').replace(/:/g, '_'))
    return this.#group(`a:${address}`, name, settings, at, () => upstreamGroup(upstream, settings))
  }

  /** Upstreams no location uses still appear (nginx accepts them; Fulcrum warns they are unused). */
  addUnused(defaults: GroupSettings): void {
    for (const upstream of this.#upstreams.values()) {
      if (!this.#variants.has(`u:${upstream.name}`)) this.forUpstream(upstream, defaults)
    }
  }

  output(): Record<string, GroupInput> {
    return this.#out
  }

  #group(base: string, name: string, settings: GroupSettings, origin: Directive, build: () => GroupInput): string {
    const key = `${base}\0${JSON.stringify(settings)}`
    const known = this.#byKey.get(key)
    if (known !== undefined) return known
    const n = (this.#variants.get(base) ?? 0) + 1
    this.#variants.set(base, n)
    let groupName = n === 1 ? name : `${name}${VARIANT_SEPARATOR}${n}`
    // A direct target's name could meet an upstream's: keep both.
    while (Object.hasOwn(this.#out, groupName)) groupName += '_'
    this.#byKey.set(key, groupName)
    this.#out[groupName] = build()
    this.origins.set(groupName, origin)
    return groupName
  }
}

function upstreamGroup(upstream: Upstream, s: GroupSettings): GroupInput {
  const live = upstream.servers.filter((server) => !server.down)
  const first = live[0] ?? upstream.servers[0]
  const group: GroupInput = { algorithm: upstream.algorithm }
  if (upstream.hashKey !== undefined) group.hashKey = upstream.hashKey
  // A down server takes no requests in nginx; Fulcrum lists only servers that may.
  group.targets = live.map((server) => {
    if (server.weight === 1 && server.maxConns === 0 && !server.backup) return server.address
    const target: Record<string, unknown> = { address: server.address }
    if (server.weight !== 1) target.weight = server.weight
    if (server.maxConns !== 0) target.maxConns = server.maxConns
    if (server.backup) target.backup = true
    return target
  })
  if (s.https !== undefined) {
    group.protocol = 'https'
    if (!s.https.verify) group.tls = { insecureSkipVerify: true }
  }
  group.passive = { maxFails: first?.maxFails ?? 1, failTimeout: duration(first?.failTimeout ?? 10_000) }
  // nginx's tries 0 means every server once: Fulcrum never retries a server that already failed the request.
  const tries = !s.retry ? 1 : s.tries === 0 ? Math.max(1, live.length) : s.tries
  group.retries = {
    tries,
    on: s.retry ? s.on : [],
    nonIdempotent: s.nonIdempotent,
    timeout: duration(s.retryTimeout),
  }
  group.timeouts = {
    connect: duration(s.connect),
    responseHeader: duration(s.read),
    idle: duration(s.read),
    keepAlive: duration(upstream.keepAliveTimeout ?? 60_000),
  }
  return group
}

/** Durations as nginx files write them: "60s", "90s", "5m", "500ms", "2h"; 0 for "off". */
export function duration(ms: number): string | number {
  if (ms === 0) return 0
  if (ms % 1000 === 0 && (ms <= 60_000 || ms % 60_000 !== 0)) return `${ms / 1000}s`
  return formatDuration(ms)
}

/** A target group name from an upstream name or address: letters, digits, "_", "." and "-". */
function safeName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '')
  return safe === '' ? 'upstream' : safe
}
