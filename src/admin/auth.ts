/** Bearer-token check for the admin API (admin.token). */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

/**
 * True when no token is configured, or the request carries `Authorization: Bearer <token>`. Both sides are
 * hashed first so the comparison takes the same time whatever the length or content of the guess.
 */
export function authorized(headers: IncomingHttpHeaders, token: string | undefined): boolean {
  if (token === undefined) return true
  const match = /^Bearer +(\S+) *$/i.exec(headers.authorization ?? '')
  if (match === null) return false
  return timingSafeEqual(digest(match[1]), digest(token))
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}
