/**
 * Checks of the L4 listeners (tcp, udp, tls-passthrough): their groups exist, and the groups they use do
 * not depend on HTTP (a group that speaks TLS to its targets, hashes on a header, or sticks by cookie
 * cannot do that for bytes it does not read). SNI names must be names.
 */
import type { Finding, Path } from './problem.ts'
import type { Config, ListenerConfig, RouteConfig } from './schema.ts'
import type { CheckAccess, CheckForward, SemanticResult } from './semantic.ts'

type L4ListenerConfig = Exclude<ListenerConfig, { protocol: 'http' | 'https' }>

export function checkL4Listener(listener: L4ListenerConfig, path: Path, config: Config, used: Set<string>, result: SemanticResult,
  checkForward: CheckForward, checkAccess: CheckAccess): void {
  checkAccess(listener.access, path, result.problems)
  const forwards: Array<[RouteConfig['forward'], Path]> = [[listener.forward, path]]
  if (listener.protocol === 'tls-passthrough') {
    if (listener.routes.length === 0 && listener.forward === undefined) {
      result.problems.push({ path: [...path, 'routes'], at: 'key', message: 'a tls-passthrough listener needs routes (SNI name -> forward) or a forward for every connection' })
    }
    const seen = new Map<string, number>()
    listener.routes.forEach((route, r) => {
      forwards.push([route.forward, [...path, 'routes', r]])
      route.serverNames.forEach((name, n) => {
        const at: Path = [...path, 'routes', r, 'serverNames', n]
        const problem = sniNameProblem(name)
        if (problem !== undefined) {
          result.problems.push({ path: at, message: problem })
          return
        }
        const key = name.toLowerCase()
        const first = seen.get(key)
        if (first === undefined) seen.set(key, r)
        else if (first !== r) result.warnings.push({ path: at, message: `"${name}" is also in routes[${first}], which takes its connections` })
      })
    })
  }
  for (const [forward, at] of forwards) {
    checkForward(forward, at, config, used, result.problems)
    for (const name of forwardNames(forward)) checkStreamGroup(name, listener.protocol, [...at, 'forward'], config, result.problems)
  }
}

/** An SNI name: a DNS name, or "*." and one. IP addresses are never sent as SNI (RFC 6066). */
export function sniNameProblem(name: string): string | undefined {
  const body = name.startsWith('*.') ? name.slice(2) : name
  if (!/^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(body)) {
    return `"${name}" is not a server name; write a name such as api.example.com, or *.example.com for every name below example.com`
  }
  return undefined
}

function forwardNames(forward: RouteConfig['forward']): string[] {
  if (forward === undefined) return []
  return typeof forward === 'string' ? [forward] : Object.keys(forward).filter((n) => forward[n] > 0)
}

function checkStreamGroup(name: string, protocol: L4ListenerConfig['protocol'], at: Path, config: Config, problems: Finding[]): void {
  if (!Object.hasOwn(config.targetGroups, name)) return
  const group = config.targetGroups[name]
  const is = `target group "${name}" (used by a ${protocol} listener)`
  if (group.protocol === 'https') {
    problems.push({ path: at, message: `${is} has protocol https, but a ${protocol} listener relays bytes without speaking TLS to targets; `
      + `remove protocol from the group${protocol === 'tcp' ? ', or use a tls-passthrough listener' : ''}` })
  }
  if (group.algorithm === 'hash' && group.hashKey !== undefined && group.hashKey !== 'client-ip') {
    problems.push({ path: at, message: `${is} hashes on ${group.hashKey}, which an L4 listener does not see; use hashKey: client-ip` })
  }
  if (group.stickiness !== undefined) {
    problems.push({ path: at, message: `${is} has stickiness, which needs HTTP cookies; remove it, or use algorithm hash with hashKey: client-ip` })
  }
  if (protocol === 'udp' && group.healthCheck?.protocol === 'tcp') {
    problems.push({ path: at, message: `${is} has a tcp health check, which a UDP target cannot answer; check an HTTP endpoint of the target instead, or remove healthCheck` })
  }
}
