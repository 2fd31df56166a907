/** The target groups some route or location forwards to with a weight above 0; the others' targets are `unused`. */
import { httpListeners, isHttpListener, type Config, type LocationConfig } from './schema.ts'

export function usedGroups(config: Config): Set<string> {
  const used = new Set<string>()
  const add = (forward: string | Record<string, number> | undefined): void => {
    if (typeof forward === 'string') used.add(forward)
    else if (forward !== undefined) for (const [g, w] of Object.entries(forward)) if (w > 0) used.add(g)
  }
  for (const l of config.listeners) {
    if (isHttpListener(l)) {
      for (const r of l.routes) add(r.forward)
      continue
    }
    add(l.forward)
    if (l.protocol === 'tls-passthrough') for (const r of l.routes) add(r.forward)
  }
  // Locations of virtual hosts forward too, nested ones included.
  const walk = (locations: readonly LocationConfig[] | undefined): void => {
    for (const loc of locations ?? []) {
      add(loc.forward)
      walk(loc.locations)
    }
  }
  for (const l of httpListeners(config)) for (const h of l.virtualHosts ?? []) walk(h.locations)
  return used
}
