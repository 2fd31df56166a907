/**
 * How workers share rate limits: each tells the primary, every SYNC_INTERVAL_MS, how many requests per
 * key each zone let through since last time; the primary passes that on to every other worker, which adds
 * them to its own buckets (RateLimitZone.absorb). No worker waits for another to decide: between two
 * exchanges, each decides with what it knows, so the workers together may let through up to one
 * interval's worth of requests per worker beyond the limit before they all see it.
 */
import type { RateLimitZones } from './rate-limit.ts'

export const SYNC_INTERVAL_MS = 50

/** Zone name -> [key, requests] pairs: what one worker let through in one interval. */
export type RateUsage = Array<[zone: string, entries: Array<[key: string, requests: number]>]>

/** What the zones let through since the last call, or undefined when nothing. */
export function collectUsage(zones: RateLimitZones): RateUsage | undefined {
  const usage: RateUsage = []
  for (const zone of zones.all) {
    const accepted = zone.drainAccepted()
    if (accepted !== undefined) usage.push([zone.name, [...accepted]])
  }
  return usage.length === 0 ? undefined : usage
}

/** Adds another worker's usage to these zones' buckets. */
export function absorbUsage(zones: RateLimitZones, usage: RateUsage, now: number): void {
  for (const [name, entries] of usage) {
    const zone = zones.get(name)
    if (zone === undefined) continue
    for (const [key, requests] of entries) zone.absorb(key, requests, now)
  }
}
