/**
 * Config -> the runtime graph a generation serves with: listeners with their compiled route tables, and
 * target groups with their algorithms. Immutable once built; a reload builds a whole new model and swaps
 * one reference. Live numbers are not here: they come from the `TargetStateStore` passed in.
 */
import { algorithms } from '../balancing/registry.ts'
import { parseListenAddress, parseTargetAddress } from '../config/address.ts'
import type { Config, ListenerConfig, RouteConfig } from '../config/schema.ts'
import { Router } from '../router/match.ts'
import { TargetGroup } from '../targets/target-group.ts'
import type { TargetStateStore } from '../targets/target-state.ts'
import type { HealthStore } from '../targets/target-health.ts'
import type { ForwardingOptions } from '../upstream/request-headers.ts'
import { GroupChooser } from './group-chooser.ts'

export type RouteAction =
  | { readonly kind: 'forward'; readonly groups: GroupChooser; readonly index: number }
  | { readonly kind: 'redirect'; readonly location: string; readonly status: number; readonly index: number }
  | { readonly kind: 'respond'; readonly status: number; readonly body: Buffer; readonly headers: readonly string[]; readonly index: number }

export interface ListenerModel {
  readonly name: string
  readonly config: ListenerConfig
  /** undefined = all addresses. */
  readonly host: string | undefined
  readonly port: number
  /** "host:port" identity of the socket, to match listeners across reloads. */
  readonly key: string
  readonly router: Router<RouteAction>
  readonly forwarding: ForwardingOptions
}

export interface Model {
  readonly config: Config
  readonly listeners: readonly ListenerModel[]
  readonly groups: ReadonlyMap<string, TargetGroup>
}

function must<T extends object>(parsed: T | { error: string }, what: string): T {
  if ('error' in parsed) throw new Error(`${what}: ${parsed.error}`)
  return parsed
}

function buildAction(route: RouteConfig, index: number, groups: ReadonlyMap<string, TargetGroup>): RouteAction {
  if (route.forward !== undefined) {
    const weights = typeof route.forward === 'string' ? { [route.forward]: 1 } : route.forward
    const entries = Object.entries(weights).filter(([, w]) => w > 0).map(([name, weight]) => {
      const group = groups.get(name)
      if (group === undefined) throw new Error(`route ${index} forwards to unknown target group "${name}"`)
      return { group, weight }
    })
    return { kind: 'forward', groups: new GroupChooser(entries), index }
  }
  if (route.redirect !== undefined) return { kind: 'redirect', ...route.redirect, index }
  if (route.respond !== undefined) {
    const r = route.respond
    const body = Buffer.from(r.body)
    const headers: string[] = ['content-type', r.contentType]
    for (const [k, v] of Object.entries(r.headers)) headers.push(k, v)
    headers.push('content-length', String(body.length))
    return { kind: 'respond', status: r.status, body, headers, index }
  }
  throw new Error(`route ${index} has no action`)
}

/** Builds the model. Throws only on input that validation should have rejected. */
export function buildModel(config: Config, store: TargetStateStore, health: HealthStore): Model {
  const groups = new Map<string, TargetGroup>()
  for (const [name, g] of Object.entries(config.targetGroups)) {
    groups.set(name, new TargetGroup(name, g, store, health, algorithms[g.algorithm],
      (address) => must(parseTargetAddress(address), `target group ${name}`)))
  }
  const listeners = config.listeners.map((l): ListenerModel => {
    const { host, port } = must(parseListenAddress(l.listen), `listener ${l.name}`)
    const router = new Router(l.routes.map((r, i) => ({ match: r.match, value: buildAction(r, i, groups) })))
    return {
      name: l.name, config: l, host, port, key: `${host ?? '*'}:${port}`, router,
      forwarding: { forwardedHeaders: l.forwardedHeaders, requestId: l.requestId, port: String(port), proto: 'http' },
    }
  })
  return { config, listeners, groups }
}

