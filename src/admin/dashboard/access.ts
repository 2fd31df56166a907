/**
 * Which dashboard requests pass without `Authorization: Bearer`: the page and its static files (they hold
 * no data; everything they show comes from the API, which asks for the token), and the event stream when
 * it carries the token as `?token=` (a browser's EventSource cannot send headers). The token is compared
 * in constant time, by the same check as the header.
 */
import type { IncomingMessage } from 'node:http'
import { authorized } from '../auth.ts'

export function dashboardAccess(req: IncomingMessage, token: string | undefined): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false
  const url = new URL(req.url ?? '/', 'http://admin')
  if (url.pathname === '/' || url.pathname.startsWith('/dashboard/')) return true
  if (url.pathname !== '/api/v1/events' && url.pathname !== '/api/v1/events/') return false
  const given = url.searchParams.get('token')
  return given !== null && authorized({ authorization: `Bearer ${given}` }, token)
}
