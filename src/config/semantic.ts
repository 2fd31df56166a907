/**
 * Checks that need more than one field, run after the schema passed: routes forward to groups that
 * exist, each route has one action, addresses parse and do not collide. Every finding has a key path;
 * the loader turns it into a line and column.
 */
import { formatAddress, parseListenAddress, parseTargetAddress } from './address.ts'
import { checkListeners } from './semantic-listen.ts'
import type { Finding, Path } from './problem.ts'
import { isHttpListener, type AccessRuleConfig, type Config, type HttpListenerConfig, type LocationConfig, type RouteConfig, type TargetGroupConfig } from './schema.ts'
import { checkL4Listener } from './semantic-l4.ts'
import { checkProtection } from './semantic-protection.ts'
import { didYouMean } from './suggest.ts'
import { formatDuration } from './duration.ts'
import { compileFormat } from '../observe/log-format.ts'
import { compileSessionFormat } from '../observe/session-format.ts'
import { compileLocationRegex, parseLocation, parseServerName, type ParsedLocation } from '../router/nginx.ts'
import { parseRule } from '../targets/access.ts'
import { templateProblems } from '../upstream/templates.ts'

/** The line a path is on, for messages that point at a second place ("first at line 5"). */
export type LineOf = (path: Path) => number | undefined

export interface SemanticResult {
  problems: Finding[]
  warnings: Finding[]
}

const HASH_KEY_HINT = 'header:NAME, cookie:NAME, path or client-ip'

export function checkConfig(config: Config, lineOf: LineOf = () => undefined): SemanticResult {
  const result: SemanticResult = { problems: [], warnings: [] }
  checkAdmin(config, result.problems)
  checkListeners(config, lineOf, result.problems)
  checkProtection(config, result.problems)
  config.listeners.forEach((listener, l) => {
    // A log template with an unknown variable would print "-" forever: refuse it here, with its name.
    if (listener.accessLog === undefined) return
    const compiled = isHttpListener(listener) ? compileFormat(listener.accessLog.format) : compileSessionFormat(listener.accessLog.format)
    for (const message of compiled.problems) {
      result.problems.push({ path: ['listeners', l, 'accessLog', 'format'], message })
    }
  })
  const used = new Set<string>()
  config.listeners.forEach((listener, l) => {
    if (!isHttpListener(listener)) {
      checkL4Listener(listener, ['listeners', l], config, used, result, checkForward, checkAccess)
      return
    }
    listener.routes.forEach((route, r) => checkRoute(route, ['listeners', l, 'routes', r], config, used, result.problems))
    checkListenerExtras(listener, ['listeners', l], config, used, result)
  })
  for (const [name, group] of Object.entries(config.targetGroups)) {
    checkGroup(group, ['targetGroups', name], lineOf, result)
    if (used.has(name)) continue
    result.warnings.push({ path: ['targetGroups', name], at: 'key', message: `target group "${name}" is not used by any route` })
  }
  return result
}

/**
 * Routes forwarding to missing target groups, checked on the raw file data, so that they are reported
 * together with schema problems elsewhere in the file (everything else waits for a valid schema).
 */
export function checkReferencesRaw(data: unknown): Finding[] {
  const problems: Finding[] = []
  const root = data as { listeners?: unknown; targetGroups?: unknown } | null
  if (root === null || typeof root !== 'object' || !Array.isArray(root.listeners)) return problems
  const groups = root.targetGroups !== null && typeof root.targetGroups === 'object' ? Object.keys(root.targetGroups as object) : []
  root.listeners.forEach((listener: unknown, l: number) => {
    const routes = (listener as { routes?: unknown } | null)?.routes
    // L4 listeners forward at the listener itself (and tls-passthrough in its SNI routes too).
    const own = (listener as { forward?: unknown } | null)?.forward === undefined ? [] : [[listener, ['listeners', l, 'forward']] as const]
    const routed = Array.isArray(routes) ? routes.map((route: unknown, r: number) => [route, ['listeners', l, 'routes', r, 'forward']] as const) : []
    for (const [holder, path] of [...own, ...routed]) {
      const forward = (holder as { forward?: unknown } | null)?.forward
      const names = typeof forward === 'string' ? [[forward, path, false] as const]
        : forward !== null && typeof forward === 'object' ? Object.keys(forward).map((n) => [n, [...path, n], true] as const) : []
      for (const [name, at, key] of names) {
        if (groups.includes(name)) continue
        const known = groups.length === 0 ? '; no targetGroups are defined' : `${didYouMean(name, groups)} (defined: ${groups.join(', ')})`
        problems.push({ path: at, at: key ? 'key' : 'value', message: `target group "${name}" does not exist${known}` })
      }
    }
  })
  return problems
}

/** The admin API can change targets and reload: off loopback, it must demand a token. */
function checkAdmin(config: Config, problems: Finding[]): void {
  if (!config.admin.enabled || config.admin.token !== undefined) return
  const parsed = parseListenAddress(config.admin.listen)
  if ('error' in parsed) return
  if (isLoopback(parsed.host)) return
  problems.push({
    path: ['admin', 'listen'],
    message: `the admin API on ${formatAddress(parsed.host, parsed.port)} is reachable from other machines, so it needs ` +
      'admin.token (every call then sends "Authorization: Bearer <token>"); add a token, or listen on 127.0.0.1',
  })
}

function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)
}

function checkRoute(route: RouteConfig, path: Path, config: Config, used: Set<string>, problems: Finding[]): void {
  const actions = (['forward', 'redirect', 'respond'] as const).filter((a) => route[a] !== undefined)
  if (actions.length !== 1) {
    const found = actions.length === 0 ? 'none' : actions.join(' and ')
    problems.push({ path, message: `a route needs exactly one of forward, redirect, respond; found ${found}` })
  }
  const regex = route.match.pathRegex
  if (regex !== undefined) {
    try {
      new RegExp(regex)
    } catch (err) {
      problems.push({ path: [...path, 'match', 'pathRegex'], message: `the regular expression does not compile: ${(err as Error).message}` })
    }
  }
  checkActionExtras(route, path, problems)
  checkForward(route.forward, path, config, used, problems)
}

export type CheckForward = typeof checkForward
export type CheckAccess = typeof checkAccess

function checkForward(forward: RouteConfig['forward'], path: Path, config: Config, used: Set<string>, problems: Finding[]): void {
  if (forward === undefined) return
  const groups = Object.keys(config.targetGroups)
  const checkName = (name: string, at: Path, key: boolean) => {
    used.add(name)
    if (Object.hasOwn(config.targetGroups, name)) return
    const known = groups.length === 0 ? '; no targetGroups are defined' : `${didYouMean(name, groups)} (defined: ${groups.join(', ')})`
    problems.push({ path: at, at: key ? 'key' : 'value', message: `target group "${name}" does not exist${known}` })
  }
  if (typeof forward === 'string') {
    checkName(forward, [...path, 'forward'], false)
    return
  }
  const names = Object.keys(forward)
  if (names.length === 0) {
    problems.push({ path: [...path, 'forward'], message: 'forward names no target group; write a group name, or group: weight pairs' })
    return
  }
  for (const name of names) checkName(name, [...path, 'forward', name], true)
  if (names.every((name) => forward[name] === 0)) {
    problems.push({
      path: [...path, 'forward'],
      message: 'every forward weight is 0, so no request could be sent; give at least one group a weight above 0',
    })
  }
}

/** Templates: unknown variables (named) and unclosed "${" braces. */
function checkTemplate(text: string, path: Path, problems: Finding[]): void {
  for (const message of templateProblems(text)) problems.push({ path, message })
}

function checkAccess(rules: readonly AccessRuleConfig[] | undefined, path: Path, problems: Finding[]): void {
  rules?.forEach((rule, i) => {
    const [key, text] = 'allow' in rule ? ['allow', rule.allow] as const : ['deny', rule.deny] as const
    const parsed = parseRule(key === 'allow', text)
    if ('error' in parsed) problems.push({ path: [...path, 'access', i, key], message: parsed.error })
  })
}

/** What routes and locations share: templates in their answers and headers, access rules. */
function checkActionExtras(route: Pick<RouteConfig, 'forward' | 'redirect' | 'respond' | 'proxy' | 'addHeaders' | 'access'>, path: Path,
  problems: Finding[]): void {
  if (route.proxy !== undefined && route.forward === undefined) {
    problems.push({ path: [...path, 'proxy'], at: 'key', message: 'proxy shapes forwarded requests only, and this one does not forward; remove proxy or add forward' })
  }
  if (route.redirect !== undefined && 'location' in route.redirect) checkTemplate(route.redirect.location, [...path, 'redirect', 'location'], problems)
  if (route.respond !== undefined) checkTemplate(route.respond.body, [...path, 'respond', 'body'], problems)
  for (const [name, value] of Object.entries(route.proxy?.setHeaders ?? {})) {
    checkTemplate(value, [...path, 'proxy', 'setHeaders', name], problems)
  }
  route.addHeaders?.forEach((h, i) => checkTemplate(h.value, [...path, 'addHeaders', i, 'value'], problems))
  checkAccess(route.access, path, problems)
}

function checkListenerExtras(listener: HttpListenerConfig, path: Path, config: Config, used: Set<string>, result: SemanticResult): void {
  checkAccess(listener.access, path, result.problems)
  const hosts = listener.virtualHosts
  if (hosts === undefined) return
  if (listener.routes.length > 0) {
    result.problems.push({
      path: [...path, 'virtualHosts'], at: 'key',
      message: 'a listener has either routes or virtualHosts, not both; move the routes into a virtual host\'s locations, or use a second listener',
    })
  }
  const names = new Map<string, number>()
  let firstDefault: number | undefined
  hosts.forEach((host, h) => {
    const at: Path = [...path, 'virtualHosts', h]
    if (host.default) {
      if (firstDefault === undefined) firstDefault = h
      else result.problems.push({ path: [...at, 'default'], message: `virtualHosts[${firstDefault}] is already the default; a listener has one default virtual host (nginx: duplicate default server)` })
    }
    host.names.forEach((name, n) => {
      const parsed = parseServerName(name)
      if ('error' in parsed) {
        result.problems.push({ path: [...at, 'names', n], message: parsed.error })
        return
      }
      const key = name.toLowerCase()
      const first = names.get(key)
      if (first === undefined) names.set(key, h)
      else if (first !== h) {
        result.warnings.push({ path: [...at, 'names', n], message: `"${name}" is also a name of virtualHosts[${first}], which takes its requests (nginx: conflicting server name)` })
      }
    })
    checkAccess(host.access, at, result.problems)
    checkLocations(host.locations, undefined, [...at, 'locations'], config, used, result.problems)
  })
}

function checkLocations(locations: readonly LocationConfig[], parent: ParsedLocation | undefined, path: Path, config: Config,
  used: Set<string>, problems: Finding[]): void {
  const seen = new Map<string, number>()
  locations.forEach((loc, i) => {
    const at: Path = [...path, i]
    const parsed = parseLocation(loc.location)
    if ('error' in parsed) {
      problems.push({ path: [...at, 'location'], message: `${parsed.error}; write "= /exact", "^~ /prefix", "~ regex", "~* regex" or "/prefix"` })
      return
    }
    const regex = parsed.kind === 'regex' || parsed.kind === 'regex-i'
    if (regex) {
      try {
        compileLocationRegex(parsed.text, parsed.kind === 'regex-i')
      } catch (err) {
        problems.push({ path: [...at, 'location'], message: `the regular expression "${parsed.text}" does not compile: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}` })
      }
    } else if (!parsed.text.startsWith('/')) {
      problems.push({ path: [...at, 'location'], message: `"${loc.location}": a location path starts with "/"` })
    }
    const key = `${regex ? parsed.kind : parsed.kind === 'exact' ? 'exact' : 'prefix'} ${parsed.text}`
    const first = seen.get(key)
    if (first === undefined) seen.set(key, i)
    else problems.push({ path: [...at, 'location'], message: `duplicate location "${loc.location}" (also locations[${first}]); nginx refuses it too` })
    if (parent !== undefined) {
      if (parent.kind === 'exact') problems.push({ path: [...at, 'location'], message: `a location cannot be inside the exact location "= ${parent.text}"` })
      else if (!regex && !parsed.text.startsWith(parent.text)) {
        problems.push({ path: [...at, 'location'], message: `location "${loc.location}" is outside location "${parent.text}"; a nested path must start with its parent's` })
      }
    }
    const actions = (['forward', 'redirect', 'respond'] as const).filter((a) => loc[a] !== undefined)
    const nested = loc.locations !== undefined && loc.locations.length > 0
    if (actions.length > 1 || (actions.length === 0 && !nested)) {
      const found = actions.length === 0 ? 'none' : actions.join(' and ')
      problems.push({ path: at, message: `a location needs exactly one of forward, redirect, respond (or only nested locations); found ${found}` })
    }
    checkActionExtras(loc, at, problems)
    const replace = loc.proxy?.replacePrefix
    if (replace !== undefined) {
      if (regex) {
        problems.push({ path: [...at, 'proxy', 'replacePrefix'], message: 'a regular-expression location cannot replace a prefix (nginx: "proxy_pass" cannot have URI part in location given by regular expression)' })
      } else if (replace.prefix !== parsed.text) {
        problems.push({ path: [...at, 'proxy', 'replacePrefix', 'prefix'], message: `the prefix to replace must be the location's path "${parsed.text}", found "${replace.prefix}"` })
      }
    }
    checkForward(loc.forward, at, config, used, problems)
    if (nested) checkLocations(loc.locations as LocationConfig[], parsed, [...at, 'locations'], config, used, problems)
  })
}

function checkGroup(group: TargetGroupConfig, path: Path, lineOf: LineOf, result: SemanticResult): void {
  if (group.algorithm === 'hash' && group.hashKey === undefined) {
    result.problems.push({
      path: [...path, 'algorithm'],
      message: `algorithm hash needs a hashKey (${HASH_KEY_HINT}); add e.g. hashKey: header:x-user-id`,
    })
  }
  if (group.hashKey !== undefined && group.hashKey.includes('$')) {
    for (const message of templateProblems(group.hashKey)) result.problems.push({ path: [...path, 'hashKey'], message })
  }
  if (group.algorithm !== 'hash' && group.hashKey !== undefined) {
    result.warnings.push({
      path: [...path, 'hashKey'],
      message: `hashKey is ignored with algorithm ${group.algorithm}; only algorithm hash uses it`,
    })
  }
  if (group.targets.length === 0) {
    result.warnings.push({ path: [...path, 'targets'], message: 'the group has no targets, so requests forwarded to it will get 503' })
  }
  const check = group.healthCheck
  if (check !== undefined) {
    // As an ALB requires: a check must end before the next one is due.
    if (check.interval < 50) {
      result.problems.push({ path: [...path, 'healthCheck', 'interval'], message: `found ${formatDuration(check.interval)}; an interval must be at least 50ms` })
    } else if (check.timeout === 0 || check.timeout >= check.interval) {
      result.problems.push({
        path: [...path, 'healthCheck', 'timeout'],
        message: `found ${formatDuration(check.timeout)}; the timeout must be above 0 and shorter than the interval (${formatDuration(check.interval)})`,
      })
    }
  }
  const seen = new Map<string, number>()
  group.targets.forEach((target, i) => {
    const at: Path = [...path, 'targets', i, 'address']
    const parsed = parseTargetAddress(target.address)
    if ('error' in parsed) {
      result.problems.push({ path: at, message: parsed.error })
      return
    }
    const key = formatAddress(parsed.host, parsed.port)
    const first = seen.get(key)
    if (first === undefined) {
      seen.set(key, i)
      return
    }
    const line = lineOf([...path, 'targets', first])
    const where = `targets[${first}]${line === undefined ? '' : `, line ${line}`}`
    result.problems.push({
      path: at,
      message: `target ${key} is listed twice in this group (first at ${where}); list each target once and use weight for a larger share`,
    })
  })
}
