/**
 * Stickiness (`stickiness` on a target group): keep a client on one target while that target is eligible.
 *
 * - `cookie`: the balancer's own cookie (`fulcrum_sticky` by default) names the target. A request whose
 *   cookie names an eligible target goes there without asking the algorithm; otherwise the algorithm picks
 *   and the response carries `Set-Cookie: <name>=<id>; Path=/; Max-Age=<duration in s>; HttpOnly;
 *   SameSite=Lax` (a session cookie when `duration` is 0). The cookie is set only when it changes: missing,
 *   forged, or naming a target that could not take the request (draining, unhealthy, passively down, at
 *   `maxConns`, or failed and retried elsewhere). Its lifetime therefore counts from when it was set.
 * - `app-cookie`: follows the application's session cookie as an ALB does. When a target's response sets
 *   the application cookie (e.g. JSESSIONID), the balancer adds `fulcrum_app_<group>=<id>` (a session
 *   cookie, same attributes otherwise); requests that carry both cookies go to that target while it is
 *   eligible, and when it is not, the target that answers instead is written into our cookie. Requests
 *   without the application cookie are balanced normally.
 *
 * The id is opaque (the first 16 characters of base64url(SHA-256(group, address))): the cookie never shows
 * a target's address, is the same in every worker and across restarts, and a forged or stale id simply
 * picks normally. The eligibility rules are the group's (`TargetGroup.pick`).
 *
 * Cost: groups without stickiness pay nothing; a request without our cookie pays one `includes`.
 */
import { createHash } from 'node:crypto'
import type { RequestFacts } from '../balancing/algorithm.ts'
import type { StickinessConfig } from '../config/schema.ts'
import type { GroupTarget } from './target-group.ts'

/** A target's id in cookies: opaque, stable, per group. */
export function targetId(group: string, address: string): string {
  return createHash('sha256').update(`${group}\n${address}`).digest('base64url').slice(0, 16)
}

/** Where the value of the cookie `prefix` ("name=") starts in a Cookie header, or -1 when it is absent. */
function valueStart(header: string, prefix: string): number {
  let at = header.indexOf(prefix)
  while (at !== -1) {
    // A whole name only: "xfulcrum_sticky=" must not match "fulcrum_sticky=".
    const before = at === 0 ? 59 : header.charCodeAt(at - 1)
    if (before === 59 /* ; */ || before === 32 /* space */ || before === 9 /* tab */) return at + prefix.length
    at = header.indexOf(prefix, at + 1)
  }
  return -1
}

/** The value of the cookie `prefix` ("name=") in a Cookie header, without surrounding quotes; undefined when absent. */
export function cookieValue(header: string, prefix: string): string | undefined {
  const start = valueStart(header, prefix)
  if (start === -1) return undefined
  let end = header.indexOf(';', start)
  if (end === -1) end = header.length
  const value = header.slice(start, end).trim()
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value
}

/** Whether a flat [name, value, …] response header list sets the cookie `prefix` ("name="). */
export function setsCookie(headers: readonly string[], prefix: string): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]
    if (name.length === 10 && name.toLowerCase() === 'set-cookie' && headers[i + 1].trimStart().startsWith(prefix)) return true
  }
  return false
}

export class Stickiness {
  readonly type: StickinessConfig['type']
  /** The balancer's cookie. */
  readonly cookieName: string
  /** "name=" of the balancer's cookie. */
  readonly #prefix: string
  /** "name=" of the application's cookie (app-cookie), else undefined. */
  readonly #appPrefix: string | undefined
  readonly #byId = new Map<string, GroupTarget>()
  /** The whole Set-Cookie value per target, built once. */
  readonly #setCookie = new Map<GroupTarget, string>()

  constructor(group: string, config: StickinessConfig, targets: readonly GroupTarget[]) {
    this.type = config.type
    let attributes = '; Path=/'
    if (config.type === 'cookie') {
      this.cookieName = config.cookie
      this.#appPrefix = undefined
      // Max-Age=0 would delete the cookie at once: a duration of 0 (no limit) makes a session cookie.
      if (config.duration > 0) attributes += `; Max-Age=${Math.max(1, Math.round(config.duration / 1000))}`
    } else {
      this.cookieName = `fulcrum_app_${group}`
      this.#appPrefix = `${config.cookie}=`
    }
    attributes += '; HttpOnly; SameSite=Lax'
    this.#prefix = `${this.cookieName}=`
    for (const t of targets) {
      const id = targetId(group, t.address)
      this.#byId.set(id, t)
      this.#setCookie.set(t, `${this.#prefix}${id}${attributes}`)
    }
  }

  /**
   * The target the request's cookie names: undefined when the request carries no sticky cookie (for
   * app-cookie: not both cookies), null when it names no target of this group (forged, or since removed).
   */
  requested(headers: RequestFacts['headers']): GroupTarget | null | undefined {
    const cookie = headers.cookie
    if (typeof cookie !== 'string' || !cookie.includes(this.#prefix)) return undefined
    if (this.#appPrefix !== undefined && valueStart(cookie, this.#appPrefix) === -1) return undefined
    const id = cookieValue(cookie, this.#prefix)
    if (id === undefined) return undefined
    return this.#byId.get(id) ?? null
  }

  /**
   * Appends our Set-Cookie to the response headers of the target that answered when the client must learn
   * it: for cookie, whenever the request's cookie did not name it; for app-cookie, when the response sets
   * the application cookie, or when the request's cookies named another target.
   */
  addCookie(headers: string[], answered: GroupTarget, requested: GroupTarget | null | undefined): void {
    if (answered === requested) return
    if (this.#appPrefix !== undefined && requested === undefined && !setsCookie(headers, this.#appPrefix)) return
    const value = this.#setCookie.get(answered)
    if (value !== undefined) headers.push('set-cookie', value)
  }
}
