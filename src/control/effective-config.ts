/**
 * The configuration the data plane serves: the file's, with each target group's targets merged with the
 * API's registrations (file targets + registered − deregistered; a registration of a file target sets its
 * weight), plus the targets still draining after their deregistration. Pure.
 */
import type { Config, TargetConfig } from '../config/schema.ts'
import type { DurableState } from '../state/state-store.ts'

export function effectiveConfig(file: Config, state: DurableState, draining: ReadonlyMap<string, readonly TargetConfig[]>): Config {
  const targetGroups: Record<string, Config['targetGroups'][string]> = {}
  for (const [name, group] of Object.entries(file.targetGroups)) {
    const reg = state.groups[name]
    const removed = new Set(reg?.removed ?? [])
    const added = new Map((reg?.added ?? []).map((r) => [r.address, r]))
    const targets: TargetConfig[] = []
    const seen = new Set<string>()
    for (const t of group.targets) {
      if (removed.has(t.address)) continue
      const override = added.get(t.address)
      targets.push(override === undefined ? t : { ...t, weight: override.weight })
      seen.add(t.address)
    }
    for (const r of added.values()) {
      if (seen.has(r.address) || removed.has(r.address)) continue
      targets.push({ address: r.address, weight: r.weight, maxConns: 0, backup: false })
      seen.add(r.address)
    }
    for (const t of draining.get(name) ?? []) if (!seen.has(t.address)) targets.push(t)
    targetGroups[name] = { ...group, targets }
  }
  return { ...file, targetGroups }
}
