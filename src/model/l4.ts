/**
 * The model of the L4 listeners: which target group a connection (tcp, tls-passthrough) or a client's
 * datagrams (udp) go to, and who may connect. Built with the rest of the model on every reload.
 */
import type { StreamListenerConfig, UdpListenerConfig } from '../config/schema.ts'
import { accessRulesOf, type AccessLevel } from '../protection/access-lists.ts'
import { AccessList } from '../targets/access.ts'
import type { TargetGroup } from '../targets/target-group.ts'
import { GroupChooser } from './group-chooser.ts'

interface L4Common {
  readonly name: string
  /** undefined = all addresses. */
  readonly host: string | undefined
  readonly port: number
  /** Identity of the socket across reloads (see ListenerModel.key). */
  readonly key: string
  /** allow/deny of the listener: a denied client's connection is closed, its datagrams dropped. */
  readonly access: AccessList | undefined
}

/** tcp and tls-passthrough listeners. */
export interface StreamListenerModel extends L4Common {
  readonly kind: 'stream'
  readonly config: StreamListenerConfig
  /** tcp: every connection; tls-passthrough: connections no SNI route takes (undefined: they are closed). */
  readonly forward: GroupChooser | undefined
  /** tls-passthrough: SNI name -> groups. */
  readonly sni: SniTable<GroupChooser> | undefined
}

export interface DatagramListenerModel extends L4Common {
  readonly kind: 'datagram'
  readonly config: UdpListenerConfig
  readonly forward: GroupChooser
}

function accessListOf(level: AccessLevel): AccessList | undefined {
  const rules = accessRulesOf(level)
  return rules === undefined ? undefined : new AccessList(rules)
}

export function chooserOf(forward: string | Record<string, number>, groups: ReadonlyMap<string, TargetGroup>): GroupChooser {
  const weights = typeof forward === 'string' ? { [forward]: 1 } : forward
  return new GroupChooser(Object.entries(weights).filter(([, w]) => w > 0).map(([name, weight]) => {
    const group = groups.get(name)
    if (group === undefined) throw new Error(`forward to unknown target group "${name}"`)
    return { group, weight }
  }))
}

export function buildStreamListener(l: StreamListenerConfig, common: Omit<L4Common, 'access'>, groups: ReadonlyMap<string, TargetGroup>): StreamListenerModel {
  const access = accessListOf(l)
  if (l.protocol === 'tcp') return { kind: 'stream', ...common, access, config: l, forward: chooserOf(l.forward, groups), sni: undefined }
  const sni = new SniTable<GroupChooser>()
  for (const route of l.routes) {
    const chooser = chooserOf(route.forward, groups)
    for (const name of route.serverNames) sni.add(name, chooser)
  }
  return { kind: 'stream', ...common, access, config: l, forward: l.forward === undefined ? undefined : chooserOf(l.forward, groups), sni }
}

export function buildDatagramListener(l: UdpListenerConfig, common: Omit<L4Common, 'access'>, groups: ReadonlyMap<string, TargetGroup>): DatagramListenerModel {
  return { kind: 'datagram', ...common, access: accessListOf(l), config: l, forward: chooserOf(l.forward, groups) }
}

/**
 * SNI names to values: exact names first, then the longest "*.suffix" that covers the name at any depth
 * (as nginx's map with hostnames). Names compare case-insensitively, without a trailing dot.
 */
export class SniTable<T> {
  readonly #exact = new Map<string, T>()
  /** Keyed by the suffix with its dot: "*.example.com" -> ".example.com". */
  readonly #wildcard = new Map<string, T>()

  /** The first route that lists a name keeps it. */
  add(name: string, value: T): void {
    const n = name.toLowerCase().replace(/\.$/, '')
    const [map, key] = n.startsWith('*.') ? [this.#wildcard, n.slice(1)] : [this.#exact, n]
    if (!map.has(key)) map.set(key, value)
  }

  get(serverName: string): T | undefined {
    const name = serverName.toLowerCase().replace(/\.$/, '')
    const exact = this.#exact.get(name)
    if (exact !== undefined) return exact
    // Longest suffix first: from the first dot on, then each shorter one.
    for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      const found = this.#wildcard.get(name.slice(dot))
      if (found !== undefined) return found
    }
    return undefined
  }
}
