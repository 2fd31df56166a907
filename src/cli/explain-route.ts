/**
 * Why a request takes the route it takes: walks a listener's routes in order, as the router does, and
 * says for every route passed over which of its conditions failed ("host api.example.com does not match
 * www.example.com"), and for the route taken which conditions held. Pure.
 *
 * It compiles each route with the router's own `compileMatch` and asks the router's own `matches` for the
 * verdict, so the verdict cannot drift from what the balancer does; the per-condition reasons are the
 * explanation of that verdict. A condition this file does not know yet (the router grew one) still gets
 * the right verdict, with a generic reason.
 */
import type { RouteConfig } from '../config/schema.ts'
import { describeRoute } from '../control/config-diff.ts'
import { compileMatch, matches, requestHost, requestPath, type CompiledMatch, type RouteRequest } from '../router/match.ts'

export interface RouteVerdict {
  /** "route 2", or "location /api/" (nested: "location /api/ > ~ \\.php$") on a listener with virtual hosts. */
  readonly label: string
  readonly index: number
  /** One line: conditions and action, e.g. "host api.example.com, path /api/ -> forward api". */
  readonly description: string
  readonly matched: boolean
  /** Matched: the conditions that held. Passed over: the ones that failed (every one, not only the first). */
  readonly reasons: readonly string[]
}

export interface RouteExplanation {
  /** The routes tried, in order; the last is the one taken when `taken` is defined. */
  readonly verdicts: readonly RouteVerdict[]
  /** Index of the route taken, or undefined: no route matches (the listener answers 404). */
  readonly taken: number | undefined
}

export function explainRoutes(routes: readonly RouteConfig[], req: RouteRequest): RouteExplanation {
  const host = requestHost(req.headers)
  const path = requestPath(req.url)
  const verdicts: RouteVerdict[] = []
  for (let index = 0; index < routes.length; index++) {
    const route = routes[index]
    const compiled = compileMatch(route.match)
    const matched = matches(compiled, req, host, path)
    const { held, failed } = conditions(compiled, route.match, req, host, path)
    const reasons = matched ? held : failed.length > 0 ? failed : ['a condition this version of explain cannot show does not hold']
    verdicts.push({ label: `route ${index}`, index, description: describeRoute(route), matched, reasons: matched && reasons.length === 0 ? ['no conditions: matches every request'] : reasons })
    if (matched) return { verdicts, taken: index }
  }
  return { verdicts, taken: undefined }
}

/** Each known condition of a route, as a sentence that says whether it held. */
function conditions(m: CompiledMatch, raw: RouteConfig['match'], req: RouteRequest, host: string, path: string): { held: string[]; failed: string[] } {
  const held: string[] = []
  const failed: string[] = []
  const check = (ok: boolean, yes: string, no: string): void => { (ok ? held : failed).push(ok ? yes : no) }
  if (m.methods !== undefined) {
    const list = [...m.methods].join(' or ')
    check(m.methods.has(req.method), `method ${req.method} is ${list}`, `method ${req.method} is not ${list}`)
  }
  if (m.host !== undefined) {
    const pattern = raw.host ?? m.host.text
    const ok = hostMatches(m.host, host)
    if (host === '') check(false, '', `the request has no Host header; the route wants host ${pattern}`)
    else check(ok, `host ${host} matches ${pattern}`, `host ${host} does not match ${pattern}`)
  }
  if (m.pathExact !== undefined) check(path === m.pathExact, `path ${path} is exactly ${m.pathExact}`, `path ${path} is not exactly ${m.pathExact}`)
  if (m.path !== undefined) check(path.startsWith(m.path), `path ${m.path} is a prefix of ${path}`, `path ${m.path} is not a prefix of ${path}`)
  if (m.pathRegex !== undefined) {
    check(m.pathRegex.test(path), `path ${path} matches /${m.pathRegex.source}/`, `path ${path} does not match /${m.pathRegex.source}/`)
  }
  for (const [name, want] of m.headers ?? []) {
    const v = req.headers[name]
    const got = Array.isArray(v) ? v.join(', ') : v
    if (got === undefined) check(false, '', `header ${name} is missing`)
    else if (want === '*') check(true, `header ${name} is present`, '')
    else check(got === want, `header ${name} is "${want}"`, `header ${name} is "${got}", not "${want}"`)
  }
  return { held, failed }
}

/** As the router's host test (src/router/match.ts), repeated here only to phrase the reason. */
function hostMatches(p: NonNullable<CompiledMatch['host']>, host: string): boolean {
  switch (p.kind) {
    case 'exact': return host === p.text
    case 'suffix': return host.length > p.text.length && host.endsWith(p.text)
    case 'prefix': return host.length > p.text.length && host.startsWith(p.text)
  }
}
