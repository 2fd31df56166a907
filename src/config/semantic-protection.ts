/**
 * Checks of the protection settings on every level (listener, virtual host, route, location): allow/deny
 * lists and trusted proxies are addresses or CIDRs, a level has either ordered `access` rules or the
 * lists, and rate limits that share a zone agree on its rate and size.
 */
import type { Finding, Path } from './problem.ts'
import { isHttpListener, type Config, type LocationConfig, type RateLimitConfig } from './schema.ts'
import { parseRule } from '../targets/access.ts'

interface Level {
  readonly access?: unknown
  readonly allow?: readonly string[]
  readonly deny?: readonly string[]
  readonly rateLimit?: RateLimitConfig | readonly RateLimitConfig[]
}

export function checkProtection(config: Config, problems: Finding[]): void {
  const zones = new Map<string, { rate: number; maxKeys: number; path: Path }>()
  const level = (l: Level, path: Path): void => {
    checkLists(l, path, problems)
    const limits = l.rateLimit === undefined ? [] : Array.isArray(l.rateLimit) ? l.rateLimit : [l.rateLimit]
    limits.forEach((r: RateLimitConfig, i) => {
      const at: Path = Array.isArray(l.rateLimit) ? [...path, 'rateLimit', i] : [...path, 'rateLimit']
      if (r.zone === undefined) return
      const first = zones.get(r.zone)
      if (first === undefined) zones.set(r.zone, { rate: r.rate, maxKeys: r.maxKeys, path: at })
      else if (first.rate !== r.rate || first.maxKeys !== r.maxKeys) {
        problems.push({ path: [...at, 'zone'], message: `zone "${r.zone}" is also used at ${first.path.join('.')} with another rate or maxKeys; a zone has one rate and size` })
      }
    })
  }
  const locations = (list: readonly LocationConfig[] | undefined, path: Path): void => {
    list?.forEach((loc, i) => {
      level(loc, [...path, i])
      locations(loc.locations, [...path, i, 'locations'])
    })
  }
  config.listeners.forEach((l, i) => {
    const path: Path = ['listeners', i]
    level(l, path)
    if (!isHttpListener(l)) return
    l.trustedProxies?.forEach((p, j) => {
      const parsed = parseRule(true, p)
      if ('error' in parsed) problems.push({ path: [...path, 'trustedProxies', j], message: parsed.error })
    })
    l.routes.forEach((r, j) => level(r, [...path, 'routes', j]))
    l.virtualHosts?.forEach((h, j) => {
      level(h, [...path, 'virtualHosts', j])
      locations(h.locations, [...path, 'virtualHosts', j, 'locations'])
    })
  })
}

function checkLists(l: Level, path: Path, problems: Finding[]): void {
  for (const key of ['allow', 'deny'] as const) {
    l[key]?.forEach((text, i) => {
      const parsed = parseRule(key === 'allow', text)
      if ('error' in parsed) problems.push({ path: [...path, key, i], message: parsed.error })
    })
  }
  if (l.access !== undefined && (l.allow !== undefined || l.deny !== undefined)) {
    problems.push({
      path: [...path, l.allow !== undefined ? 'allow' : 'deny'], at: 'key',
      message: 'a level has either access (ordered rules, as nginx) or allow/deny lists, not both; move the lists into access, or drop access',
    })
  }
}
