/**
 * What the dashboard remembers beyond the status document: a timeline per target (every state change
 * with its reason, and its removal), the reloads it saw (with what they changed), and deregistered
 * targets that have left their group (so the page can offer to re-enable them). Nothing runs on its own:
 * `sync()` reads the control plane when a dashboard asks.
 */
import type { Config } from '../../config/schema.ts'
import type { TargetRecord, Transition } from '../../control/control-plane.ts'

/** The part of the control plane the history reads. */
export interface HistorySource {
  readonly config: Config
  readonly transitions: readonly Transition[]
  records(): TargetRecord[]
}

export interface TimelineEntry {
  readonly from: string
  /** A target state, or "removed" when it left its group. */
  readonly to: string
  readonly reason: string
  readonly at: number
}

export interface ReloadEntry {
  /** When the dashboard noticed the new configuration (within a second while a dashboard is open). */
  readonly at: number
  /** What changed, e.g. "target app 10.0.0.7:80 added"; empty when only other settings changed. */
  readonly changes: string[]
}

export interface RemovedTarget {
  readonly group: string
  readonly address: string
  readonly weight: number
  readonly at: number
}

/** Entries kept per target, reloads and removed targets kept; targets with a timeline. */
export const LIMITS = { timeline: 100, reloads: 20, removed: 50, targets: 2000 } as const

const key = (group: string, address: string): string => `${group}\n${address}`

export class DashboardHistory {
  readonly #source: HistorySource
  readonly #now: () => number
  readonly #timelines = new Map<string, TimelineEntry[]>()
  readonly #reloads: ReloadEntry[] = []
  readonly #removed = new Map<string, RemovedTarget>()
  #config: Config
  #lastSeen: Transition | undefined
  #known = new Map<string, { weight: number; state: string }>()

  constructor(source: HistorySource, now: () => number = Date.now) {
    this.#source = source
    this.#now = now
    this.#config = source.config
  }

  sync(): void {
    this.#syncTransitions()
    const config = this.#source.config
    if (config !== this.#config) {
      push(this.#reloads, { at: this.#now(), changes: configChanges(this.#config, config) }, LIMITS.reloads)
      this.#config = config
    }
    const now = new Map<string, { weight: number; state: string }>()
    for (const r of this.#source.records()) {
      const k = key(r.group, r.address)
      now.set(k, { weight: r.weight, state: r.state })
      this.#removed.delete(k)
    }
    for (const [k, was] of this.#known) {
      if (now.has(k)) continue
      const [group, address] = k.split('\n')
      // Draining may have begun and ended between two syncs: the transitions tell.
      const deregistered = was.state === 'draining' || this.#timelines.get(k)?.at(-1)?.to === 'draining'
      this.#append(k, { from: was.state, to: 'removed', reason: deregistered ? 'deregistered: left the group' : 'removed from the configuration', at: this.#now() })
      if (deregistered) {
        this.#removed.set(k, { group, address, weight: was.weight, at: this.#now() })
        if (this.#removed.size > LIMITS.removed) this.#removed.delete(this.#removed.keys().next().value as string)
      }
    }
    this.#known = now
  }

  timeline(group: string, address: string): readonly TimelineEntry[] {
    return this.#timelines.get(key(group, address)) ?? []
  }

  reloads(): readonly ReloadEntry[] {
    return this.#reloads
  }

  /** Deregistered targets that have left their group, oldest first. */
  removed(): RemovedTarget[] {
    return [...this.#removed.values()]
  }

  /** New transitions since the last sync: those after the last one seen (all of them the first time). */
  #syncTransitions(): void {
    const all = this.#source.transitions
    const last = this.#lastSeen === undefined ? -1 : all.lastIndexOf(this.#lastSeen)
    // Not found: more than the control plane keeps happened since; take what it still has.
    for (const t of all.slice(last + 1)) this.#append(key(t.group, t.address), { from: t.from, to: t.to, reason: t.reason, at: t.at })
    this.#lastSeen = all.at(-1) ?? this.#lastSeen
  }

  #append(k: string, entry: TimelineEntry): void {
    let list = this.#timelines.get(k)
    if (list === undefined) {
      list = []
      this.#timelines.set(k, list)
      if (this.#timelines.size > LIMITS.targets) this.#timelines.delete(this.#timelines.keys().next().value as string)
    }
    push(list, entry, LIMITS.timeline)
  }
}

function push<T>(list: T[], item: T, max: number): void {
  list.push(item)
  if (list.length > max) list.splice(0, list.length - max)
}

/** What a reload changed, in words: listeners, groups, targets, weights, algorithms, health checks. */
export function configChanges(before: Config, after: Config): string[] {
  const out: string[] = []
  const names = (c: Config): Map<string, string> => new Map(c.listeners.map((l) => [l.name, JSON.stringify(l)]))
  const [la, lb] = [names(before), names(after)]
  for (const n of lb.keys()) if (!la.has(n)) out.push(`listener ${n} added`)
  for (const [n, text] of la) {
    if (!lb.has(n)) out.push(`listener ${n} removed`)
    else if (lb.get(n) !== text) out.push(`listener ${n} changed`)
  }
  for (const g of Object.keys(after.targetGroups)) if (before.targetGroups[g] === undefined) out.push(`target group ${g} added`)
  for (const [g, old] of Object.entries(before.targetGroups)) {
    const next = after.targetGroups[g]
    if (next === undefined) { out.push(`target group ${g} removed`); continue }
    if (old.algorithm !== next.algorithm) out.push(`${g}: algorithm ${old.algorithm} → ${next.algorithm}`)
    if (JSON.stringify(old.healthCheck) !== JSON.stringify(next.healthCheck)) out.push(`${g}: health check changed`)
    const weights = new Map(old.targets.map((t) => [t.address, t.weight]))
    for (const t of next.targets) {
      const w = weights.get(t.address)
      if (w === undefined) out.push(`target ${g} ${t.address} added`)
      else if (w !== t.weight) out.push(`target ${g} ${t.address} weight ${w} → ${t.weight}`)
      weights.delete(t.address)
    }
    for (const address of weights.keys()) out.push(`target ${g} ${address} removed`)
  }
  return out
}
