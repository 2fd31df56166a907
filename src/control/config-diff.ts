/**
 * What a new configuration changes: listeners, routes, target groups and targets added, removed or
 * changed, each as one line. Used for the reload log (what a reload did) and by `fulcrum validate --diff`
 * (what a reload would do). Pure.
 *
 * Both sides are snapshots, so that one side may be partial: the admin API's status document knows
 * listeners' addresses, groups' algorithm and health check, and targets' weights, but not routes or
 * maxConns. A field only one side knows is not compared; `complete` marks a side that knows every field
 * (absent = not set).
 */
import { redirectLocation, type Config, type RouteConfig } from '../config/schema.ts'

export interface Facts {
  /** Field values by name; nested objects are compared one level deep. */
  readonly fields: Readonly<Record<string, unknown>>
  /** Every field is known (a missing one is unset), as in a snapshot of a whole Config. */
  readonly complete: boolean
}
export interface ListenerFacts extends Facts {
  /** Undefined when this side does not know its routes. */
  readonly routes: readonly RouteConfig[] | undefined
}
export interface GroupFacts extends Facts {
  /** By address: weight always; maxConns and backup when known. */
  readonly targets: ReadonlyMap<string, { readonly weight: number; readonly maxConns?: number; readonly backup?: boolean }>
}
export interface Snapshot {
  readonly listeners: ReadonlyMap<string, ListenerFacts>
  readonly groups: ReadonlyMap<string, GroupFacts>
}

export interface Change {
  readonly kind: 'added' | 'removed' | 'changed'
  readonly subject: 'listener' | 'route' | 'target group' | 'target'
  /** Listener or group name; "listener route N" for a route; "group/address" for a target. */
  readonly name: string
  /** One line: what was added or removed, or "field old -> new; …" for a change. */
  readonly detail: string
}

export function snapshotOf(config: Config): Snapshot {
  const listeners = new Map<string, ListenerFacts>()
  for (const l of config.listeners) {
    if (l.protocol === 'http' || l.protocol === 'https') {
      const { name, routes, ...fields } = l
      listeners.set(name, { fields: { ...fields, listen: String(fields.listen) }, complete: true, routes })
    } else {
      // L4 listeners: their forward (and SNI routes) are compared as fields.
      const { name, ...fields } = l
      listeners.set(name, { fields: { ...fields, listen: String(fields.listen) }, complete: true, routes: undefined })
    }
  }
  const groups = new Map<string, GroupFacts>()
  for (const [name, { targets, ...fields }] of Object.entries(config.targetGroups)) {
    groups.set(name, { fields, complete: true, targets: new Map(targets.map((t) => [t.address, { weight: t.weight, maxConns: t.maxConns, backup: t.backup }])) })
  }
  return { listeners, groups }
}

/** Every difference from `before` to `after`, listeners (each followed by its routes) first, then groups. */
export function diffSnapshots(before: Snapshot, after: Snapshot): Change[] {
  const out: Change[] = []
  for (const [name, b] of before.listeners) if (!after.listeners.has(name)) out.push({ kind: 'removed', subject: 'listener', name, detail: listenerLine(b) })
  for (const [name, a] of after.listeners) {
    const b = before.listeners.get(name)
    if (b === undefined) { out.push({ kind: 'added', subject: 'listener', name, detail: listenerLine(a) }); continue }
    const fields = fieldChanges(b, a)
    const routes = b.routes !== undefined && a.routes !== undefined ? routeChanges(name, b.routes, a.routes) : []
    if (b.routes !== undefined && a.routes !== undefined && b.routes.length !== a.routes.length) fields.push(`routes ${b.routes.length} -> ${a.routes.length}`)
    else if (routes.length > 0) fields.push('routes changed')
    if (fields.length > 0) out.push({ kind: 'changed', subject: 'listener', name, detail: fields.join('; ') })
    out.push(...routes)
  }
  for (const [name, b] of before.groups) if (!after.groups.has(name)) out.push({ kind: 'removed', subject: 'target group', name, detail: groupLine(b) })
  for (const [name, a] of after.groups) {
    const b = before.groups.get(name)
    if (b === undefined) { out.push({ kind: 'added', subject: 'target group', name, detail: groupLine(a) }); continue }
    const fields = fieldChanges(b, a)
    const targets = targetChanges(name, b, a)
    if (fields.length > 0 || targets.length > 0) out.push({ kind: 'changed', subject: 'target group', name, detail: fields.length > 0 ? fields.join('; ') : 'targets changed' })
    out.push(...targets)
  }
  return out
}

/** The reload log's fields: what changed besides the listeners and targets the data plane added or removed. */
export interface ReloadChanges {
  readonly listenersChanged: string[]
  readonly targetsChanged: string[]
  /** Every change, one line each ("~ listener web: routes 1 -> 2"). */
  readonly changes: string[]
}

export function reloadChanges(before: Config, after: Config): ReloadChanges {
  const changes = diffSnapshots(snapshotOf(before), snapshotOf(after))
  const changed = (subject: Change['subject']): string[] => changes.filter((c) => c.kind === 'changed' && c.subject === subject).map((c) => c.name)
  return { listenersChanged: changed('listener'), targetsChanged: changed('target'), changes: changes.map(changeLine) }
}

const SIGN: Record<Change['kind'], string> = { added: '+', removed: '-', changed: '~' }

export function changeLine(c: Change): string {
  const subject = c.subject === 'route' ? 'listener' : c.subject
  return `${SIGN[c.kind]} ${subject} ${c.name}${c.kind === 'changed' ? `: ${c.detail}` : ` (${c.detail})`}`
}

function listenerLine(l: ListenerFacts): string {
  const hosts = l.fields.virtualHosts
  const routes = Array.isArray(hosts) ? `, ${hosts.length} virtual host${hosts.length === 1 ? '' : 's'}`
    : l.routes === undefined ? '' : `, ${l.routes.length} route${l.routes.length === 1 ? '' : 's'}`
  return `${String(l.fields.protocol)} on ${String(l.fields.listen)}${routes}`
}

function groupLine(g: GroupFacts): string {
  return `${String(g.fields.algorithm ?? 'round-robin')}, ${g.targets.size} target${g.targets.size === 1 ? '' : 's'}`
}

/** "field old -> new" for each field both sides know that differs; objects one level deep ("healthCheck.interval 5s -> 10s"). */
function fieldChanges(b: Facts, a: Facts): string[] {
  const out: string[] = []
  for (const key of comparedKeys(b, a)) {
    const [x, y] = [b.fields[key], a.fields[key]]
    if (same(x, y)) continue
    if (isObject(x) && isObject(y)) {
      for (const sub of new Set([...Object.keys(x), ...Object.keys(y)])) {
        if (!same(x[sub], y[sub])) out.push(`${key}.${sub} ${show(sub, x[sub])} -> ${show(sub, y[sub])}`)
      }
    } else if (show(key, x).length + show(key, y).length > 80) out.push(`${key} changed`)
    else out.push(`${key} ${show(key, x)} -> ${show(key, y)}`)
  }
  return out
}

/** Both complete: every field; one partial: the fields it knows; both partial: the fields both know. */
function comparedKeys(b: Facts, a: Facts): string[] {
  if (b.complete && a.complete) return [...new Set([...Object.keys(b.fields), ...Object.keys(a.fields)])]
  if (b.complete) return Object.keys(a.fields)
  if (a.complete) return Object.keys(b.fields)
  return Object.keys(b.fields).filter((k) => k in a.fields)
}

/**
 * Routes are aligned by content (longest common subsequence), so inserting one route reports one route
 * added rather than every later route changed; routes between two aligned ones pair up as changed.
 */
function routeChanges(listener: string, b: readonly RouteConfig[], a: readonly RouteConfig[]): Change[] {
  const pairs = commonSubsequence(b, a)
  const out: Change[] = []
  let [i, j] = [0, 0]
  for (const [pi, pj] of [...pairs, [b.length, a.length] as const]) {
    while (i < pi && j < pj) {
      const [was, now] = [describeRoute(b[i]), describeRoute(a[j])]
      const name = `${listener} route ${j}${i === j ? '' : ` (was ${i})`}`
      out.push({ kind: 'changed', subject: 'route', name, detail: was === now ? `${now} (details changed)` : `${was} => ${now}` })
      i++; j++
    }
    for (; i < pi; i++) out.push({ kind: 'removed', subject: 'route', name: `${listener} route ${i}`, detail: describeRoute(b[i]) })
    for (; j < pj; j++) out.push({ kind: 'added', subject: 'route', name: `${listener} route ${j}`, detail: describeRoute(a[j]) })
    i = pi + 1
    j = pj + 1
  }
  return out
}

/** Index pairs of equal routes, in order (classic LCS table; route lists are short). */
function commonSubsequence(b: readonly RouteConfig[], a: readonly RouteConfig[]): Array<readonly [number, number]> {
  const len = Array.from({ length: b.length + 1 }, () => new Array<number>(a.length + 1).fill(0))
  for (let i = b.length - 1; i >= 0; i--) {
    for (let j = a.length - 1; j >= 0; j--) len[i][j] = same(b[i], a[j]) ? len[i + 1][j + 1] + 1 : Math.max(len[i + 1][j], len[i][j + 1])
  }
  const pairs: Array<readonly [number, number]> = []
  let [i, j] = [0, 0]
  while (i < b.length && j < a.length) {
    if (same(b[i], a[j])) { pairs.push([i, j]); i++; j++ } else if (len[i + 1][j] >= len[i][j + 1]) i++
    else j++
  }
  return pairs
}

function targetChanges(group: string, b: GroupFacts, a: GroupFacts): Change[] {
  const out: Change[] = []
  for (const [address, t] of b.targets) if (!a.targets.has(address)) out.push({ kind: 'removed', subject: 'target', name: `${group}/${address}`, detail: `weight ${t.weight}` })
  for (const [address, t] of a.targets) {
    const was = b.targets.get(address)
    const name = `${group}/${address}`
    if (was === undefined) { out.push({ kind: 'added', subject: 'target', name, detail: `weight ${t.weight}${t.backup === true ? ', backup' : ''}${t.maxConns ? `, maxConns ${t.maxConns}` : ''}` }); continue }
    const fields: string[] = []
    if (was.weight !== t.weight) fields.push(`weight ${was.weight} -> ${t.weight}`)
    if (was.backup !== undefined && t.backup !== undefined && was.backup !== t.backup) fields.push(`backup ${was.backup} -> ${t.backup}`)
    if (was.maxConns !== undefined && t.maxConns !== undefined && was.maxConns !== t.maxConns) fields.push(`maxConns ${was.maxConns} -> ${t.maxConns}`)
    if (fields.length > 0) out.push({ kind: 'changed', subject: 'target', name, detail: fields.join('; ') })
  }
  return out
}

/** One line for a route: its conditions, then its action ("host api.example.com, path /api/ -> forward api"). */
export function describeRoute(route: RouteConfig): string {
  const m = route.match
  const conds: string[] = []
  if (m.method !== undefined) conds.push(`method ${Array.isArray(m.method) ? m.method.join('|') : m.method}`)
  if (m.host !== undefined) conds.push(`host ${m.host}`)
  if (m.path !== undefined) conds.push(`path ${m.path}`)
  if (m.pathExact !== undefined) conds.push(`path = ${m.pathExact}`)
  if (m.pathRegex !== undefined) conds.push(`path ~ ${m.pathRegex}`)
  for (const [name, value] of Object.entries(m.headers ?? {})) conds.push(value === '*' ? `header ${name}` : `header ${name}: ${value}`)
  // Conditions the schema gains later still show, if less nicely.
  const known = new Set(['method', 'host', 'path', 'pathExact', 'pathRegex', 'headers'])
  for (const [key, value] of Object.entries(m)) if (!known.has(key) && value !== undefined) conds.push(`${key} ${JSON.stringify(value)}`)
  return `${conds.length === 0 ? 'any request' : conds.join(', ')} -> ${describeAction(route)}`
}

/** A route's or an nginx location's action, in a few words. */
export function describeAction(route: Pick<RouteConfig, 'forward' | 'redirect' | 'respond'>): string {
  if (typeof route.forward === 'string') return `forward ${route.forward}`
  if (route.forward !== undefined) return `forward ${Object.entries(route.forward).map(([g, w]) => `${g} ${w}`).join(', ')}`
  if (route.redirect !== undefined) return `redirect ${route.redirect.status} ${redirectLocation(route.redirect)}`
  if (route.respond !== undefined) {
    const body = route.respond.body
    return `respond ${route.respond.status}${body === '' ? '' : ` ${JSON.stringify(body.length > 30 ? `${body.slice(0, 30)}…` : body)}`}`
  }
  return 'nested locations only'
}

/** Durations are milliseconds in a Config; show them as the file writes them. */
const DURATIONS = new Set(['deregistrationDelay', 'slowStart', 'interval', 'timeout', 'failTimeout', 'connect', 'responseHeader',
  'idle', 'keepAlive', 'max', 'duration', 'headerTimeout', 'keepAliveTimeout', 'drainTimeout'])

function show(key: string, value: unknown): string {
  if (value === undefined || value === null) return 'none'
  if (typeof value === 'number' && DURATIONS.has(key)) {
    if (value === 0 || value % 1000 !== 0) return `${value}ms`
    return value % 60_000 === 0 ? `${value / 60_000}m` : `${value / 1000}s`
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Deep equality of plain config values (JSON data); undefined and null both mean "not set". */
function same(x: unknown, y: unknown): boolean {
  if (x === y || (x == null && y == null)) return true
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false
  if (Array.isArray(x) !== Array.isArray(y)) return false
  const keys = new Set([...Object.keys(x), ...Object.keys(y)])
  for (const k of keys) if (!same((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k])) return false
  return true
}
