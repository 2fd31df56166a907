/**
 * Durable state: the targets registered and deregistered through the admin API, per target group. Behind
 * an interface so a networked store (etcd) can replace the embedded file later.
 *
 * Merge rule with the file's configuration (documented in the README): a group's targets are the file's
 * targets, plus those registered by API, minus those deregistered by API. Registering an address the file
 * lists sets its weight; deregistering an address the file lists keeps it out until it is registered again.
 */
export interface Registration {
  readonly address: string
  readonly weight: number
}

export interface GroupRegistrations {
  readonly added: readonly Registration[]
  readonly removed: readonly string[]
}

export interface DurableState {
  readonly version: 1
  readonly groups: Readonly<Record<string, GroupRegistrations>>
}

export const EMPTY_STATE: DurableState = { version: 1, groups: {} }

export interface StateStore {
  /** The last saved state, or EMPTY_STATE when there is none. Throws with a clear message if unreadable. */
  load(): Promise<DurableState>
  /** Resolves once the state is durable: a crash after this keeps it, a crash during it keeps the old one. */
  save(state: DurableState): Promise<void>
}

export function withRegistered(state: DurableState, group: string, reg: Registration): DurableState {
  const g = state.groups[group] ?? { added: [], removed: [] }
  const added = [...g.added.filter((r) => r.address !== reg.address), reg]
  const removed = g.removed.filter((a) => a !== reg.address)
  return { version: 1, groups: { ...state.groups, [group]: { added, removed } } }
}

export function withDeregistered(state: DurableState, group: string, address: string, inFile: boolean): DurableState {
  const g = state.groups[group] ?? { added: [], removed: [] }
  const added = g.added.filter((r) => r.address !== address)
  // Only a file target needs a tombstone; an API target is simply forgotten.
  const removed = inFile && !g.removed.includes(address) ? [...g.removed, address] : g.removed
  return { version: 1, groups: { ...state.groups, [group]: { added, removed } } }
}

/** Undo a deregistration of a file target without pinning its weight: the file keeps deciding it. */
export function withRestored(state: DurableState, group: string, address: string): DurableState {
  const g = state.groups[group] ?? { added: [], removed: [] }
  const added = g.added.filter((r) => r.address !== address)
  const removed = g.removed.filter((a) => a !== address)
  return { version: 1, groups: { ...state.groups, [group]: { added, removed } } }
}
