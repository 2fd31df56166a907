/**
 * A level's `rateLimit` entries, compiled against the process's zones, and the per-request check: every
 * limit must pass (as several nginx limit_req at one level); then each records the request, and the
 * request waits for the longest delay any of them asks.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { RateLimitConfig } from '../config/schema.ts'
import type { RateLimitZone, RateLimitZones } from './rate-limit.ts'

export interface CompiledRateLimit {
  readonly zone: RateLimitZone
  readonly burst: number
  /** Requests of the burst served without delay; Infinity with nodelay. */
  readonly delay: number
  /** Lower-case header name for `header:NAME` keys; undefined = the client's address. */
  readonly header: string | undefined
  readonly status: number
}

export type RateOutcome =
  | { readonly kind: 'pass'; readonly delayMs: number }
  | { readonly kind: 'reject'; readonly status: number; readonly retryAfterS: number }

const PASS: RateOutcome = { kind: 'pass', delayMs: 0 }

/** `where` names the level ("listener web route 2") for zones without an explicit name. */
export function compileRateLimits(config: RateLimitConfig | readonly RateLimitConfig[] | undefined, where: string,
  zones: RateLimitZones, used: Set<string>): readonly CompiledRateLimit[] | undefined {
  if (config === undefined) return undefined
  const list = Array.isArray(config) ? config as readonly RateLimitConfig[] : [config as RateLimitConfig]
  return list.map((r, i) => {
    const name = r.zone ?? `${where} #${i}`
    used.add(name)
    return {
      zone: zones.zone(name, r.rate, r.maxKeys),
      burst: r.burst,
      delay: r.nodelay ? Infinity : r.delay,
      header: r.key.startsWith('header:') ? r.key.slice(7).toLowerCase() : undefined,
      status: r.status,
    }
  })
}

function keyOf(limit: CompiledRateLimit, clientIp: string, headers: IncomingHttpHeaders): string | undefined {
  if (limit.header === undefined) return clientIp
  const v = headers[limit.header]
  const key = Array.isArray(v) ? v.join(', ') : v
  // nginx does not account a request whose key is empty.
  return key === undefined || key === '' ? undefined : key
}

export function checkRateLimits(limits: readonly CompiledRateLimit[], clientIp: string, headers: IncomingHttpHeaders, now: number): RateOutcome {
  for (const limit of limits) {
    const key = keyOf(limit, clientIp, headers)
    if (key === undefined) continue
    const refused = limit.zone.check(key, now, limit.burst)
    if (refused !== undefined && refused.kind === 'reject') return { kind: 'reject', status: limit.status, retryAfterS: refused.retryAfterS }
  }
  let delayMs = 0
  for (const limit of limits) {
    const key = keyOf(limit, clientIp, headers)
    if (key !== undefined) delayMs = Math.max(delayMs, limit.zone.take(key, now, limit.delay))
  }
  return delayMs === 0 ? PASS : { kind: 'pass', delayMs }
}
