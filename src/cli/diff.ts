/**
 * `fulcrum validate -c FILE --diff`: what a reload with FILE would change in the running balancer,
 * before it is sent. Both sides are what the data plane serves: targets registered or deregistered by API
 * count (read from the state file in the new configuration's dataDir, as a reload would merge them).
 *
 * The running side comes from the admin API's status document, which decides what exists (listeners,
 * groups, targets, weights, algorithm, health check). What the document does not carry (routes, maxConns,
 * backup, other settings) comes from the file the balancer runs (`configFile`) as it is on disk now, and
 * only when that is another file than FILE: edited in place, it holds the new version, not the running one,
 * so those details are not compared, and the output says so.
 */
import { resolve } from 'node:path'
import type { Config } from '../config/schema.ts'
import { loadConfig } from '../config/load.ts'
import { changeLine, diffSnapshots, snapshotOf, type Change, type GroupFacts, type ListenerFacts, type Snapshot } from '../control/config-diff.ts'
import { effectiveConfig } from '../control/effective-config.ts'
import { FileStateStore } from '../state/file-store.ts'
import { EMPTY_STATE, type DurableState } from '../state/state-store.ts'
import type { AdminClient } from './admin-client.ts'
import type { StatusView } from './status.ts'

export interface ReloadPreview {
  readonly running: { readonly url: string; readonly pid: number; readonly configFile: string }
  readonly changes: readonly Change[]
  readonly notes: readonly string[]
}

export async function previewReload(client: AdminClient, file: string, config: Config): Promise<ReloadPreview> {
  const status = await client.call<StatusView>('GET', '/api/v1/status')
  const notes: string[] = []
  const state = await loadState(config.dataDir, notes)
  let running = statusSnapshot(status)
  if (resolve(status.configFile) === resolve(file)) {
    notes.push(`the balancer runs ${file} itself, so its running routes, maxConns, backup and other settings are not known (the status API does not report them): only listeners, target groups (algorithm, health check, failOpen, deregistrationDelay) and targets (weight) are compared`)
  } else {
    const loaded = await loadConfig(status.configFile)
    if (!loaded.ok) notes.push(`cannot read the running balancer's ${status.configFile} (${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'}): routes and settings the status API does not report are not compared`)
    else {
      const fromFile = snapshotOf(effectiveConfig(loaded.config, state, new Map()))
      running = overlay(fromFile, running)
      if (diffSnapshots(fromFile, running).length > 0) notes.push(`${status.configFile} was edited since the balancer last loaded it: routes and settings are compared with it as it is on disk now`)
    }
  }
  const changes = diffSnapshots(running, snapshotOf(effectiveConfig(config, state, new Map())))
  return { running: { url: client.url, pid: status.pid, configFile: status.configFile }, changes, notes }
}

export function renderPreview(p: ReloadPreview): string {
  const out = [`compared with the running balancer at ${p.running.url} (pid ${p.running.pid}, ${p.running.configFile}):`]
  if (p.changes.length === 0) out.push('  a reload would change nothing')
  // Routes and targets sit under their listener or group.
  for (const c of p.changes) out.push(`${c.subject === 'route' || c.subject === 'target' ? '    ' : '  '}${changeLine(c)}`)
  for (const n of p.notes) out.push(`note: ${n}`)
  return out.join('\n')
}

async function loadState(dataDir: string, notes: string[]): Promise<DurableState> {
  try {
    return await new FileStateStore(dataDir).load()
  } catch (err) {
    notes.push(`${(err as Error).message}: targets registered by API are not counted`)
    return EMPTY_STATE
  }
}

/** What the status document tells: partial facts. Draining targets are leaving either way: not compared. */
function statusSnapshot(s: StatusView): Snapshot {
  const listeners = new Map<string, ListenerFacts>(s.listeners.map((l) => [l.name, { fields: { protocol: l.protocol, listen: l.listen }, complete: false, routes: undefined }]))
  const groups = new Map<string, GroupFacts>()
  for (const g of s.targetGroups) {
    const fields: Record<string, unknown> = { algorithm: g.algorithm, healthCheck: g.healthCheck ?? undefined, failOpen: g.failOpen, deregistrationDelay: g.deregistrationDelayMs }
    for (const k of Object.keys(fields)) if (k !== 'healthCheck' && fields[k] === undefined) delete fields[k]
    const targets = new Map(g.targets.filter((t) => t.state !== 'draining').map((t) => [t.address, { weight: t.weight }]))
    groups.set(g.name, { fields, complete: false, targets })
  }
  return { listeners, groups }
}

/** The status document decides what exists and the fields it reports; the file fills in the rest. */
function overlay(file: Snapshot, status: Snapshot): Snapshot {
  const listeners = new Map<string, ListenerFacts>()
  for (const [name, l] of status.listeners) {
    const f = file.listeners.get(name)
    listeners.set(name, f === undefined ? l : { fields: { ...f.fields, ...l.fields }, complete: true, routes: f.routes })
  }
  const groups = new Map<string, GroupFacts>()
  for (const [name, g] of status.groups) {
    const f = file.groups.get(name)
    if (f === undefined) { groups.set(name, g); continue }
    const targets = new Map([...g.targets].map(([address, t]) => [address, { ...f.targets.get(address), ...t }]))
    groups.set(name, { fields: { ...f.fields, ...g.fields }, complete: true, targets })
  }
  return { listeners, groups }
}
