/**
 * The admin API's routes (all under /api/v1) and their handlers. Handlers throw ApiError for anything the
 * caller got wrong; server.ts turns that into the JSON error answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { ApiError } from '../control/api-error.ts'
import type { ControlPlane } from '../control/control-plane.ts'
import { dashboardFile, dashboardPage, events, targetTimeline } from './dashboard/routes.ts'
import { readJson, sendError, sendJson } from './json.ts'
import { groupView, statusView, targetView, type DrainingUntil } from './status.ts'

export interface Context {
  readonly cp: ControlPlane
  readonly log: Logger
  readonly drainingUntil: DrainingUntil
  /** Remembers when a deregistered target's delay runs out, for the status document. */
  readonly setDrainingUntil: (group: string, address: string, until: number | undefined) => void
}

type Handler = (ctx: Context, req: IncomingMessage, res: ServerResponse, params: string[], query: URLSearchParams) => Promise<void>

interface Route {
  readonly pattern: RegExp
  readonly methods: Readonly<Record<string, Handler>>
}

const SEGMENT = '([^/]+)'

const ROUTES: Route[] = [
  { pattern: /^\/api\/v1\/status$/, methods: { GET: getStatus } },
  { pattern: new RegExp(`^/api/v1/target-groups/${SEGMENT}$`), methods: { GET: getGroup } },
  { pattern: new RegExp(`^/api/v1/target-groups/${SEGMENT}/targets$`), methods: { POST: registerTarget } },
  { pattern: new RegExp(`^/api/v1/target-groups/${SEGMENT}/targets/${SEGMENT}$`), methods: { DELETE: deregisterTarget } },
  { pattern: /^\/api\/v1\/reload$/, methods: { POST: reload } },
  { pattern: /^\/metrics$/, methods: { GET: getMetrics } },
  // The dashboard (src/admin/dashboard/): the page, its files, the live feed, a target's timeline.
  { pattern: /^\/$/, methods: { GET: dashboardPage } },
  { pattern: new RegExp(`^/dashboard/${SEGMENT}$`), methods: { GET: dashboardFile } },
  { pattern: /^\/api\/v1\/events$/, methods: { GET: events } },
  { pattern: new RegExp(`^/api/v1/target-groups/${SEGMENT}/targets/${SEGMENT}/timeline$`), methods: { GET: targetTimeline } },
]

/** Finds the handler for a request: 404 for an unknown path, 405 (with Allow) for a known path's wrong method. */
export async function dispatch(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin')
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, '') : url.pathname
  for (const route of ROUTES) {
    const match = route.pattern.exec(path)
    if (match === null) continue
    const handler = route.methods[req.method ?? 'GET'] ?? (req.method === 'HEAD' ? route.methods.GET : undefined)
    if (handler === undefined) {
      const allow = Object.keys(route.methods).join(', ')
      sendError(res, new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow}`), { allow })
      return
    }
    return handler(ctx, req, res, match.slice(1).map(decodeSegment), url.searchParams)
  }
  throw new ApiError(404, 'not_found', `no such admin API path: ${path} (see GET /api/v1/status)`)
}

/** Prometheus text format, every worker's data-plane metrics aggregated with the control plane's. */
async function getMetrics(ctx: Context, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const observer = ctx.cp.observer
  if (observer === undefined) throw new ApiError(404, 'metrics_off', 'metrics are not collected in this process (fulcrum start collects them when the admin API is on)')
  const { contentType, text } = await observer.metrics(ctx.cp)
  res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

async function getStatus(ctx: Context, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, await statusView(ctx.cp, ctx.drainingUntil))
}

async function getGroup(ctx: Context, _req: IncomingMessage, res: ServerResponse, [group]: string[]): Promise<void> {
  const view = await groupView(ctx.cp, group, ctx.drainingUntil)
  if (view === undefined) throw noGroup(ctx, group)
  sendJson(res, 200, view)
}

async function registerTarget(ctx: Context, req: IncomingMessage, res: ServerResponse, [group]: string[]): Promise<void> {
  const body = await readJson(req)
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_request', 'the body must be a JSON object such as {"address":"127.0.0.1:8085","weight":1}')
  }
  const { address, weight = 1 } = body as { address?: unknown; weight?: unknown }
  if (typeof address !== 'string' || address === '') {
    throw new ApiError(400, 'missing_address', 'the body needs "address": "host:port", e.g. {"address":"127.0.0.1:8085"}')
  }
  if (typeof weight !== 'number') throw new ApiError(400, 'invalid_weight', `weight must be a number, found ${JSON.stringify(weight)}`)
  // The control plane answers only once the registration is saved to disk and applied.
  const record = await ctx.cp.register(group, address, weight)
  ctx.log.info({ group, target: address, weight }, 'admin API: target registered')
  sendJson(res, 201, { group, target: targetView(record, await ctx.cp.dataPlane.inFlight(), ctx.drainingUntil) })
}

async function deregisterTarget(ctx: Context, _req: IncomingMessage, res: ServerResponse, [group, address]: string[], query: URLSearchParams): Promise<void> {
  const { until, done } = await ctx.cp.deregister(group, address)
  ctx.setDrainingUntil(group, address, until)
  void done.then(() => ctx.setDrainingUntil(group, address, undefined))
  ctx.log.info({ group, target: address, drainingUntil: new Date(until).toISOString() }, 'admin API: target deregistered (draining)')
  const wait = query.get('wait')
  if (wait === null || wait === 'false' || wait === '0') {
    sendJson(res, 202, { target: address, state: 'draining', drainingUntil: new Date(until).toISOString() })
    return
  }
  // 'not-draining' means it was registered again while we waited: it never left.
  const outcome = await done
  sendJson(res, 200, { target: address, outcome })
}

async function reload(ctx: Context, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const result = await ctx.cp.reload()
  if (!result.ok) {
    ctx.log.error({ config: ctx.cp.configFile, problems: result.problems }, 'admin API: reload rejected: the old configuration keeps serving')
    const n = result.problems.length
    const err = new ApiError(422, 'invalid_config', `${ctx.cp.configFile} has ${n} problem${n === 1 ? '' : 's'}; the old configuration keeps serving`)
    sendError(res, err, {}, { problems: result.problems })
    return
  }
  ctx.log.info({ config: ctx.cp.configFile, ...result.summary }, 'configuration reloaded')
  sendJson(res, 200, { reloaded: true, summary: result.summary })
}

function noGroup(ctx: Context, group: string): ApiError {
  const known = Object.keys(ctx.cp.config.targetGroups)
  return new ApiError(404, 'group_not_found', `no target group "${group}" in ${ctx.cp.configFile} (groups: ${known.join(', ') || 'none'})`)
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new ApiError(400, 'invalid_path', `"${segment}" is not valid URL encoding; encode the address with encodeURIComponent`)
  }
}
