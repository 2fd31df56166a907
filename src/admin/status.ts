/**
 * The status document of the admin API (`GET /api/v1/status`), read by `fulcrum status` and by the
 * dashboard. Times are ISO 8601 strings, durations milliseconds. Shape:
 *
 * {
 *   version: "0.1.0", pid: 1234, uptimeSeconds: 12.3, configFile: "/etc/fulcrum.yaml",
 *   listeners: [{ name: "web", protocol: "http", listen: "0.0.0.0:80", port: 80 }],
 *   targetGroups: [{
 *     name: "app", algorithm: "round-robin", used: true,            // used: some route forwards to it
 *     healthCheck: { protocol, path, port, interval, timeout, healthyThreshold, unhealthyThreshold, matcher } | null,
 *     failOpen: true, deregistrationDelayMs: 30000,
 *     targets: [{
 *       address: "127.0.0.1:8081", weight: 1, source: "file" | "api",
 *       state: "initial" | "healthy" | "unhealthy" | "draining" | "unused",
 *       reason: "2 checks passed in a row (status 200)", since: "2025-…Z", inFlight: 0,
 *       drainingUntil: "2025-…Z" | null,                             // set while draining
 *       lastCheck: { ok: true, detail: "status 200", latencyMs: 1.2, at: "2025-…Z" } | null,
 *     }],
 *   }],
 *   transitions: [{ group, address, from, to, reason, at }],          // the last 50, oldest first
 * }
 */
import { readFileSync } from 'node:fs'
import type { Config, TargetGroupConfig } from '../config/schema.ts'
import type { ControlPlane, TargetRecord } from '../control/control-plane.ts'
import { usedGroups } from '../config/used-groups.ts'

export const TRANSITIONS_SHOWN = 50

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

export type DrainingUntil = (group: string, address: string) => number | undefined

export async function statusView(cp: ControlPlane, drainingUntil: DrainingUntil): Promise<Record<string, unknown>> {
  const [ports, inFlight] = await Promise.all([cp.dataPlane.ports(), cp.dataPlane.inFlight()])
  const config = cp.config
  return {
    version: VERSION,
    pid: process.pid,
    uptimeSeconds: Math.round(process.uptime() * 10) / 10,
    configFile: cp.configFile,
    listeners: config.listeners.map((l) => ({ name: l.name, protocol: l.protocol, listen: String(l.listen), port: ports[l.name] ?? null })),
    targetGroups: Object.keys(config.targetGroups).map((name) => groupOf(cp, name, inFlight, drainingUntil)),
    transitions: cp.transitions.slice(-TRANSITIONS_SHOWN).map((t) => ({ ...t, at: iso(t.at) })),
  }
}

/** One group's entry of the status document, or undefined when the file has no such group. */
export async function groupView(cp: ControlPlane, name: string, drainingUntil: DrainingUntil): Promise<Record<string, unknown> | undefined> {
  if (cp.config.targetGroups[name] === undefined) return undefined
  return groupOf(cp, name, await cp.dataPlane.inFlight(), drainingUntil)
}

export function targetView(r: TargetRecord, inFlight: Record<string, number>, drainingUntil: DrainingUntil): Record<string, unknown> {
  const until = r.state === 'draining' ? drainingUntil(r.group, r.address) : undefined
  return {
    address: r.address,
    weight: r.weight,
    source: r.source,
    state: r.state,
    reason: r.reason,
    since: iso(r.since),
    inFlight: inFlight[r.address] ?? 0,
    drainingUntil: until === undefined ? null : iso(until),
    lastCheck: r.lastCheck === undefined ? null : { ...r.lastCheck, at: iso(r.lastCheck.at) },
  }
}

function groupOf(cp: ControlPlane, name: string, inFlight: Record<string, number>, drainingUntil: DrainingUntil): Record<string, unknown> {
  const g = cp.config.targetGroups[name] as TargetGroupConfig
  return {
    name,
    algorithm: g.algorithm,
    used: usedGroups(cp.config).has(name),
    // The protocol a check runs with: its own, or the group's.
    healthCheck: g.healthCheck === undefined ? null : { ...g.healthCheck, protocol: g.healthCheck.protocol ?? (g.protocol === 'https' ? 'https' : 'http') },
    failOpen: g.failOpen,
    deregistrationDelayMs: g.deregistrationDelay,
    targets: cp.records().filter((r) => r.group === name).map((r) => targetView(r, inFlight, drainingUntil)),
  }
}


function iso(ms: number): string {
  return new Date(ms).toISOString()
}
