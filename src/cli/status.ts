/**
 * `fulcrum status [--json]`: the listeners and every target with its state, as the admin API reports it
 * (GET /api/v1/status). Exit 0 when every target group a route uses has a healthy target, 1 otherwise, so
 * scripts and probes can use it as a check. Also the table that `fulcrum targets list` prints.
 */
import type { AdminClient } from './admin-client.ts'

/** The parts of the status document (src/admin/status.ts) the CLI reads. */
export interface TargetView {
  address: string
  weight: number
  source: string
  state: string
  reason: string
  inFlight: number
  drainingUntil: string | null
  lastCheck: { ok: boolean; detail: string; latencyMs: number; at: string } | null
}
export interface GroupView {
  name: string
  used: boolean
  healthCheck: object | null
  targets: TargetView[]
}
export interface StatusView {
  version: string
  pid: number
  uptimeSeconds: number
  configFile: string
  listeners: Array<{ name: string; protocol: string; listen: string; port: number | null }>
  targetGroups: GroupView[]
}

export async function runStatus(client: AdminClient, json: boolean): Promise<number> {
  const status = await client.call<StatusView>('GET', '/api/v1/status')
  const down = unhealthyGroups(status.targetGroups)
  if (json) {
    console.log(JSON.stringify(status, null, 2))
  } else {
    console.log(`fulcrum ${status.version}, pid ${status.pid}, up ${duration(status.uptimeSeconds * 1000)}, config ${status.configFile}`)
    for (const l of status.listeners) console.log(`listener ${l.name}: ${l.protocol} on ${l.listen}${l.port !== null && !String(l.listen).endsWith(`:${l.port}`) ? ` (port ${l.port})` : ''}`)
    console.log('')
    console.log(targetTable(status.targetGroups))
  }
  for (const g of down) console.error(`fulcrum: target group "${g}" has no healthy target`)
  return down.length === 0 ? 0 : 1
}

/** Groups a route uses that have no healthy target. */
export function unhealthyGroups(groups: readonly GroupView[]): string[] {
  return groups.filter((g) => g.used && !g.targets.some((t) => t.state === 'healthy')).map((g) => g.name)
}

/** A plain table: group, target, state, weight, in flight, last check. */
export function targetTable(groups: readonly GroupView[], now = Date.now()): string {
  const rows: string[][] = [['GROUP', 'TARGET', 'STATE', 'WEIGHT', 'IN FLIGHT', 'LAST CHECK']]
  for (const g of groups) {
    if (g.targets.length === 0) rows.push([g.name, '(no targets)', '', '', '', ''])
    for (const t of g.targets) {
      const state = t.state === 'draining' && t.drainingUntil !== null ? `draining (until ${t.drainingUntil})` : t.state
      rows.push([g.name, t.address, state, String(t.weight), String(t.inFlight), lastCheck(t, g, now)])
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

function lastCheck(t: TargetView, g: GroupView, now: number): string {
  if (t.lastCheck === null) return g.healthCheck === null ? 'no health check' : '-'
  const ago = duration(Math.max(0, now - Date.parse(t.lastCheck.at)))
  return `${t.lastCheck.ok ? 'ok' : 'failed'}: ${t.lastCheck.detail} (${Math.round(t.lastCheck.latencyMs)}ms, ${ago} ago)`
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 120_000) return `${Math.round(ms / 100) / 10}s`
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`
  return `${Math.round(ms / 3_600_000)}h`
}
