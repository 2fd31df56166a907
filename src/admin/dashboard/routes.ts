/**
 * The dashboard's handlers, mounted by ../routes.ts: the page at `/`, its files under `/dashboard/`, the
 * live feed at `/api/v1/events` and a target's timeline.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError } from '../../control/api-error.ts'
import { sendJson } from '../json.ts'
import type { Context } from '../routes.ts'
import { serveAsset } from './assets.ts'
import { hubFor } from './hub.ts'

export async function dashboardPage(_ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  serveAsset(req, res, '/')
}

export async function dashboardFile(_ctx: Context, req: IncomingMessage, res: ServerResponse, [name]: string[]): Promise<void> {
  if (!serveAsset(req, res, name)) throw new ApiError(404, 'not_found', `no such dashboard file: /dashboard/${name}`)
}

/** `GET /api/v1/events`: server-sent events (see hub.ts). With admin.token: the header or `?token=`. */
export async function events(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  hubFor(ctx).attach(req, res)
}

/** `GET /api/v1/target-groups/{group}/targets/{address}/timeline`: its state changes and removal, oldest first. */
export async function targetTimeline(ctx: Context, _req: IncomingMessage, res: ServerResponse, [group, address]: string[]): Promise<void> {
  const history = hubFor(ctx).history
  history.sync()
  const timeline = history.timeline(group, address)
  const known = ctx.cp.record(group, address) !== undefined || timeline.length > 0
  if (!known) throw new ApiError(404, 'target_not_found', `target ${address} has no history in target group "${group}"`)
  sendJson(res, 200, { group, address, timeline: timeline.map((e) => ({ ...e, at: new Date(e.at).toISOString() })) })
}
