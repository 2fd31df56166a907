/**
 * The fixed rules of retrying and the per-group pool settings the proxy reads on every attempt: which
 * methods are idempotent, which target statuses map to which `retries.on` condition, and how much of a
 * request body is kept so that a retry can send it again.
 */
import type { RetryCondition } from '../config/schema.ts'
import type { TargetGroup } from '../targets/target-group.ts'
import { poolSettings, type PoolSettings } from './pool.ts'

export const IDEMPOTENT: Readonly<Record<string, true>> = { GET: true, HEAD: true, OPTIONS: true, PUT: true, DELETE: true, TRACE: true }
export const RETRY_STATUS: Readonly<Record<number, RetryCondition>> = {
  500: 'http_500', 502: 'http_502', 503: 'http_503', 504: 'http_504', 403: 'http_403', 404: 'http_404', 429: 'http_429',
}

/**
 * Request bodies up to this size are read before the first attempt, as nginx buffers them, so that a retry
 * can send them again. Larger or chunked bodies stream through and can be retried only before their first
 * byte was sent.
 */
export const RETRY_BODY_LIMIT = 64 * 1024

/**
 * How often one request may be sent again on the same target because its pooled connection was found
 * closed (the target closed an idle keep-alive connection just as it was reused). nginx does the same for
 * a cached connection. More than once: the next pooled connection may have been closed too (a target that
 * closes idle connections quickly leaves several dead ones in the pool; 4 still failed 1 request in ~5,000).
 */
export const STALE_CONNECTION_RETRIES = 8

/**
 * The connection ended before any of the answer came: closed by the target ("other side closed"), or reset
 * because the request reached a connection the target had just closed. That is what happens to a request
 * that meets a pooled connection the target closed as idle. (It cannot be told apart from a target that
 * fails the request that way, so the caller allows it only where no other target could take the request.)
 */
export function isStaleConnection(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE'
}

const settingsCache = new WeakMap<TargetGroup, PoolSettings>()
export function settingsOf(group: TargetGroup): PoolSettings {
  let s = settingsCache.get(group)
  if (s === undefined) settingsCache.set(group, (s = poolSettings(group.config)))
  return s
}
