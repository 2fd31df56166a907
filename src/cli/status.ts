/**
 * `fulcrum status [--json]`: the picture the dashboard shows, as text: listeners, target groups (algorithm,
 * health check), every target with its state, weight, requests in flight, last check and reason, and the
 * last transitions, from the admin API's status document (GET /api/v1/status, src/admin/status.ts).
 * Exit 0 when every target group a route uses has a healthy target, 1 otherwise with a last line naming
 * the groups without one, so monitoring (a Nagios check, a cron job) can run it as it is.
 * Also the table that `fulcrum targets list` prints.
 */
import type { AdminClient } from './admin-client.ts'
import { colourEnabled, painter, STATE_STYLE, type Paint } from '../colour.ts'

/** The parts of the status document (src/admin/status.ts) the CLI reads. */
export interface TargetView {
  address: string
  weight: number
  source: string
  state: string
  reason: string
  since?: string
  inFlight: number
  drainingUntil: string | null
  lastCheck: { ok: boolean; detail: string; latencyMs: number; at: string } | null
}
export interface HealthCheckView {
  protocol?: string
  path?: string
  port?: number | string
  interval?: number
  timeout?: number
  healthyThreshold?: number
  unhealthyThreshold?: number
  matcher?: string
}
export interface GroupView {
  name: string
  algorithm?: string
  used: boolean
  healthCheck: HealthCheckView | null
  failOpen?: boolean
  deregistrationDelayMs?: number
  targets: TargetView[]
}
export interface TransitionView {
  group: string
  address: string
  from: string
  to: string
  reason: string
  at: string
}
export interface StatusView {
  version: string
  pid: number
  uptimeSeconds: number
  configFile: string
  listeners: Array<{ name: string; protocol: string; listen: string; port: number | null }>
  targetGroups: GroupView[]
  transitions?: TransitionView[]
}

/** How many transitions the text view shows; --json has all the API keeps. */
const TRANSITIONS_SHOWN = 5

export async function runStatus(client: AdminClient, json: boolean): Promise<number> {
  const status = await client.call<StatusView>('GET', '/api/v1/status')
  const down = unhealthyGroups(status.targetGroups)
  if (json) console.log(JSON.stringify(status, null, 2))
  else console.log(renderStatus(status, painter(colourEnabled(process.stdout))))
  // On stderr, so that stdout stays the picture (or the JSON) and a monitor still shows why it failed.
  for (const g of down) console.error(`fulcrum: target group "${g}" has no healthy target`)
  return down.length === 0 ? 0 : 1
}

/** Groups a route uses that have no healthy target. */
export function unhealthyGroups(groups: readonly GroupView[]): string[] {
  return groups.filter((g) => g.used && !g.targets.some((t) => t.state === 'healthy')).map((g) => g.name)
}

/** The whole text view. `now` and `paint` are parameters so tests get exact output. */
export function renderStatus(s: StatusView, paint: Paint = painter(false), now = Date.now()): string {
  const out: string[] = []
  out.push(`fulcrum ${s.version}, pid ${s.pid}, up ${duration(s.uptimeSeconds * 1000)}, config ${s.configFile}`)
  out.push('')
  for (const l of s.listeners) {
    const port = l.port !== null && !String(l.listen).endsWith(`:${l.port}`) && String(l.listen) !== String(l.port) ? ` (port ${l.port})` : ''
    out.push(`listener ${paint('bold', l.name)}: ${l.protocol} on ${l.listen}${port}`)
  }
  for (const g of s.targetGroups) out.push(`target group ${paint('bold', g.name)}: ${groupSummary(g)}`)
  out.push('')
  out.push(targetTable(s.targetGroups, now, { reason: true, paint }))
  const transitions = s.transitions ?? []
  if (transitions.length > 0) {
    const shown = transitions.slice(-TRANSITIONS_SHOWN)
    out.push('')
    out.push(`last transitions${transitions.length > shown.length ? ` (${shown.length} of ${transitions.length}; --json for all)` : ''}:`)
    const rows = shown.map((t) => {
      const at = Date.parse(t.at)
      // A new target is recorded as a transition into its first state: show it as such, not "initial -> initial".
      const change = t.from === t.to ? [`new, ${t.to}`, paintState(paint, `new, ${t.to}`, t.to)] : [`${t.from} -> ${t.to}`, `${paintState(paint, t.from)} -> ${paintState(paint, t.to)}`]
      return { cells: [`${clock(at)} (${duration(Math.max(0, now - at))} ago)`, `${t.group} ${t.address}`, change[0]], painted: change[1], reason: t.reason }
    })
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r.cells[i].length)))
    for (const r of rows) {
      const pad = (i: number): string => ' '.repeat(widths[i] - r.cells[i].length)
      out.push(`  ${r.cells[0]}${pad(0)}  ${r.cells[1]}${pad(1)}  ${r.painted}${pad(2)}  ${r.reason}`)
    }
  }
  return out.join('\n')
}

/** "round-robin, health check http /health every 5s (healthy after 3, unhealthy after 2), fail open". */
export function groupSummary(g: GroupView): string {
  const parts: string[] = []
  if (g.algorithm !== undefined) parts.push(g.algorithm)
  const hc = g.healthCheck
  if (hc === null) parts.push('no health check')
  else {
    const what = hc.protocol === 'tcp' ? 'tcp connect' : `${hc.protocol ?? 'http'} ${hc.path ?? '/'}${hc.matcher !== undefined && hc.matcher !== '200' ? ` expecting ${hc.matcher}` : ''}`
    const port = hc.port !== undefined && hc.port !== 'traffic-port' ? ` on port ${hc.port}` : ''
    const every = hc.interval === undefined ? '' : ` every ${duration(hc.interval)}`
    const thresholds = hc.healthyThreshold === undefined ? '' : ` (healthy after ${hc.healthyThreshold}, unhealthy after ${hc.unhealthyThreshold})`
    parts.push(`health check ${what}${port}${every}${thresholds}`)
  }
  if (g.failOpen === false) parts.push('no fail open')
  if (!g.used) parts.push('unused: no route forwards to it')
  const n = g.targets.length
  parts.push(`${n} target${n === 1 ? '' : 's'}`)
  return parts.join(', ')
}

export interface TableOptions {
  /** Add the REASON column (`status` does; `targets list` keeps its narrower table). */
  readonly reason?: boolean
  readonly paint?: Paint
}

/** A table: group, target, state, weight, in flight, last check (and reason). */
export function targetTable(groups: readonly GroupView[], now = Date.now(), options: TableOptions = {}): string {
  const paint = options.paint ?? painter(false)
  const header = ['GROUP', 'TARGET', 'STATE', 'WEIGHT', 'IN FLIGHT', 'LAST CHECK']
  if (options.reason === true) header.push('REASON')
  const rows: string[][] = [header]
  const states: Array<string | undefined> = [undefined]
  for (const g of groups) {
    if (g.targets.length === 0) { rows.push([g.name, '(no targets)', '', '', '', '', ''].slice(0, header.length)); states.push(undefined) }
    for (const t of g.targets) {
      const state = t.state === 'draining' && t.drainingUntil !== null ? `draining (until ${t.drainingUntil})` : t.state
      const row = [g.name, t.address, state, String(t.weight), String(t.inFlight), lastCheck(t, g, now)]
      if (options.reason === true) row.push(t.reason)
      rows.push(row)
      states.push(t.state)
    }
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  // Pad the plain text, then colour it: escape codes have no width on screen.
  return rows.map((r, n) => r.map((cell, i) => {
    const pad = ' '.repeat(widths[i] - cell.length)
    if (n === 0) return paint('bold', cell) + pad
    return (i === 2 && states[n] !== undefined ? paintState(paint, cell, states[n]) : cell) + pad
  }).join('  ').trimEnd()).join('\n')
}

function paintState(paint: Paint, text: string, state = text): string {
  const style = STATE_STYLE[state]
  return style === undefined ? text : paint(style, text)
}

/** "ok: status 200 in 2ms, 3s ago"; groups without checks say so, targets not yet checked show "-". */
function lastCheck(t: TargetView, g: GroupView, now: number): string {
  if (t.lastCheck === null) return g.healthCheck === null ? 'no health check' : '-'
  const ago = duration(Math.max(0, now - Date.parse(t.lastCheck.at)))
  return `${t.lastCheck.ok ? 'ok' : 'failed'}: ${t.lastCheck.detail} in ${Math.round(t.lastCheck.latencyMs)}ms, ${ago} ago`
}

/** Local wall-clock time, HH:MM:SS, as an operator reads it next to their own logs. */
function clock(ms: number): string {
  const d = new Date(ms)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 120_000) return `${Math.round(ms / 100) / 10}s`
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`
  return `${Math.round(ms / 3_600_000)}h`
}
