/**
 * A listener's `virtualHosts` -> nginx server selection over per-host location tables. Access rules and
 * the body limit resolve as nginx inherits them: the innermost level that sets them (nested location,
 * location, virtual host, listener) decides; levels do not combine. `proxy` and `addHeaders` apply to the
 * location they are written on only.
 */
import type { HttpListenerConfig, LocationConfig } from '../config/schema.ts'
import { LocationTable, ServerTable, type LocationSpec } from '../router/nginx.ts'
import type { TargetGroup } from '../targets/target-group.ts'
import type { AccessList } from '../targets/access.ts'
import type { CompiledRateLimit } from '../protection/rate-limits.ts'
import { buildAction, type LevelBuilder, type RouteAction } from './build.ts'
import { RouteExtras } from './route-extras.ts'

export interface VirtualHostModel {
  /** nginx $server_name: the first name ('' for none). */
  readonly serverName: string
  readonly locations: LocationTable<RouteAction>
  /** The host's access rules, body limit and pages, for requests no location takes (404) or bad ones (400). */
  readonly fallback: RouteExtras
}

interface Level {
  readonly access: AccessList | undefined
  readonly maxBodyBytes: number | undefined
  readonly rateLimits: readonly CompiledRateLimit[] | undefined
  /** Whether requests are logged: a location's access_log off holds for the locations inside it. */
  readonly logged?: boolean
}

export function buildVirtualHosts(l: HttpListenerConfig, listener: Level & { readonly nginxPages: boolean },
  groups: ReadonlyMap<string, TargetGroup>, levels: LevelBuilder): ServerTable<VirtualHostModel> {
  let index = 0
  const hosts = (l.virtualHosts ?? []).map((vh, h) => {
    const serverName = vh.names[0] ?? ''
    const hostLevel: Level = {
      access: levels.access.of(vh) ?? listener.access,
      maxBodyBytes: vh.maxBodyBytes ?? listener.maxBodyBytes,
      rateLimits: levels.rateLimits(vh.rateLimit, `virtualHosts ${h}`) ?? listener.rateLimits,
    }
    const spec = (loc: LocationConfig, outer: Level): LocationSpec<RouteAction> => {
      const at = index
      const own: Level = {
        access: levels.access.of(loc) ?? outer.access,
        maxBodyBytes: loc.maxBodyBytes ?? loc.limits?.maxBodyBytes ?? outer.maxBodyBytes,
        rateLimits: levels.rateLimits(loc.rateLimit, `location ${at}`) ?? outer.rateLimits,
        logged: loc.accessLog ?? outer.logged,
      }
      const extras = new RouteExtras({
        ...own, nginxPages: listener.nginxPages, serverName, proxy: loc.proxy, addHeaders: loc.addHeaders, always: true, templated: false,
        bodyTimeout: loc.limits?.bodyTimeout,
      })
      const action = buildAction(loc, index++, groups, extras)
      return {
        location: loc.location,
        value: action,
        // nginx redirects "/x" to "/x/" for a "/x/" location that proxies.
        autoRedirect: loc.forward !== undefined,
        children: loc.locations?.map((child) => spec(child, own)),
      }
    }
    const value: VirtualHostModel = {
      serverName,
      locations: new LocationTable(vh.locations.map((loc) => spec(loc, hostLevel))),
      fallback: new RouteExtras({ ...hostLevel, nginxPages: listener.nginxPages, serverName, always: true, templated: false }),
    }
    return { names: vh.names, isDefault: vh.default, value }
  })
  return new ServerTable(hosts)
}
