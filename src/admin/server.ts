/**
 * The admin API server (HTTP, JSON) on `admin.listen`: status, target registration and deregistration,
 * reload. Off loopback it demands `Authorization: Bearer <admin.token>` on every call. A handler's
 * failure becomes a JSON 500; it never takes the process down.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import type { Logger } from 'pino'
import { formatAddress, isAllAddresses, parseListenAddress } from '../config/address.ts'
import type { Config } from '../config/schema.ts'
import { ApiError } from '../control/api-error.ts'
import type { ControlPlane } from '../control/control-plane.ts'
import { authorized } from './auth.ts'
import { dashboardAccess } from './dashboard/access.ts'
import { sendError } from './json.ts'
import { dispatch, type Context } from './routes.ts'

export interface AdminServer {
  /** The bound port (useful with `admin.listen: 127.0.0.1:0`); 0 when the admin API is disabled. */
  readonly port: number
  /** Stops listening and cuts open connections, including `?wait=true` calls still waiting. */
  close(): Promise<void>
}

/**
 * Starts the admin API. Rejects, with a message naming the cause, when the address cannot be listened on
 * or when a non-loopback address has no token. With `admin.enabled: false` nothing listens.
 */
export async function startAdminServer(cp: ControlPlane, admin: Config['admin'], log: Logger): Promise<AdminServer> {
  if (!admin.enabled) return { port: 0, close: async () => {} }
  const parsed = parseListenAddress(admin.listen)
  if ('error' in parsed) throw new Error(`admin.listen: ${parsed.error}`)
  const where = formatAddress(parsed.host, parsed.port)
  // Config validation rejects this already; this guards callers that build a Config in code.
  if (admin.token === undefined && !isLoopback(parsed.host)) {
    throw new Error(`the admin API on ${where} is reachable from other machines, so it needs admin.token; add one, or listen on 127.0.0.1`)
  }

  const draining = new Map<string, number>()
  const key = (group: string, address: string): string => `${group}\n${address}`
  const ctx: Context = {
    cp, log,
    drainingUntil: (group, address) => draining.get(key(group, address)),
    setDrainingUntil: (group, address, until) => {
      if (until === undefined) draining.delete(key(group, address))
      else draining.set(key(group, address), until)
    },
  }

  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => { void handle(ctx, admin.token, req, res) })
  // Clients that send garbage get a 400 from Node; nothing of theirs should reach the log as an error.
  server.on('clientError', (_err, socket) => { socket.destroy() })
  server.listen({ port: parsed.port, host: isAllAddresses(parsed.host) ? undefined : parsed.host })
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => { throw err })])
  } catch (err) {
    server.close()
    throw new Error(`cannot listen on ${where} for the admin API: ${reason(err as NodeJS.ErrnoException)}`, { cause: err })
  }
  const port = (server.address() as { port: number }).port
  log.info({ listen: formatAddress(parsed.host, port), auth: admin.token === undefined ? 'none (loopback)' : 'bearer token' }, 'admin API listening')
  return {
    port,
    close: async () => {
      server.close()
      server.closeAllConnections()
      if (server.listening) await once(server, 'close')
    },
  }
}

async function handle(ctx: Context, token: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    // The dashboard's page and files hold no data; its event stream may carry the token as ?token=.
    if (!authorized(req.headers, token) && !dashboardAccess(req, token)) {
      // Drain the body so the connection can be reused for the next, authorized, call.
      req.resume()
      const err = new ApiError(401, 'unauthorized', 'this admin API needs "Authorization: Bearer <admin.token>" (fulcrum: --token or FULCRUM_ADMIN_TOKEN)')
      sendError(res, err, { 'www-authenticate': 'Bearer realm="fulcrum"' })
      return
    }
    await dispatch(ctx, req, res)
  } catch (err) {
    if (err instanceof ApiError) {
      // After a 413 the rest of the body is unread: close rather than read megabytes to keep the connection.
      sendError(res, err, err.status === 413 ? { connection: 'close' } : {})
      return
    }
    ctx.log.error({ err, method: req.method, url: req.url }, 'admin API: unexpected error')
    sendError(res, new ApiError(500, 'internal_error', `unexpected error: ${(err as Error)?.message ?? String(err)}`))
  }
}

function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)
}

function reason(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return 'the address is already in use (is another fulcrum running?)'
  if (err.code === 'EACCES') return 'permission denied (ports below 1024 need privileges)'
  if (err.code === 'EADDRNOTAVAIL') return 'this machine has no such address'
  return err.message
}
