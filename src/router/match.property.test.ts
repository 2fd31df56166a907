/**
 * The route table and nginx's location search against reference implementations written here from the
 * documented rules (README "Routes" and "Virtual hosts, locations…", match.ts, nginx.ts), for random tables
 * and requests over small alphabets, so that prefixes, wildcards and regexes collide often.
 *
 * Router: routes in order, the first whose every condition holds. host: case-insensitive, port ignored
 * ("[v6]:port" keeps its brackets), exact / "*.suffix" (at least one character before the suffix) /
 * "prefix.*" (at least one after); path: prefix of the path without the query; pathExact: equality;
 * pathRegex: JavaScript regex on the path; method: one or a list, written in any case; headers: exact value,
 * "*" for present; names in any case.
 *
 * LocationTable: at each level an "=" equal to the URI stops; else the longest matching prefix (plain or ^~)
 * is remembered and its nested level searched (an exact or regex found there, or its redirect, stops); an
 * auto-redirect location "X/" answers "X" with a 301 unless a prefix equal to "X" exists; unless the longest
 * prefix is ^~, the level's regexes are tried in order and the first match wins (its nested level searched
 * too, where a redirect is served as a plain match); else the deepest remembered prefix.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { IncomingHttpHeaders } from 'node:http'
import type { RouteMatchConfig } from '../config/schema.ts'
import { Router, type RouteRequest } from './match.ts'
import { LocationTable, type LocationSpec } from './nginx.ts'

// ---- Router ------------------------------------------------------------------------------------------------

/** A regex we can evaluate without RegExp: optional ^, a literal, optional $. */
interface SimpleRegex { readonly start: boolean; readonly literal: string; readonly end: boolean }
const regexSource = (r: SimpleRegex) => `${r.start ? '^' : ''}${r.literal.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}${r.end ? '$' : ''}`
function regexMatches(r: SimpleRegex, s: string): boolean {
  if (r.start && r.end) return s === r.literal
  if (r.start) return s.startsWith(r.literal)
  if (r.end) return s.endsWith(r.literal)
  return s.includes(r.literal)
}

interface HostSpec { readonly kind: 'exact' | 'suffix' | 'prefix'; readonly text: string }
interface RouteSpec {
  readonly host?: HostSpec
  readonly path?: string
  readonly pathExact?: string
  readonly pathRegex?: SimpleRegex
  readonly method?: string | string[]
  readonly headers?: Record<string, string>
}

const randomCase = (s: string, flips: readonly boolean[]) =>
  [...s].map((c, i) => (flips[i % Math.max(1, flips.length)] ? c.toUpperCase() : c)).join('')

const LABELS = ['a', 'b', 'api', 'www', 'example', 'com', 'org', 'x-y', '1']
const labels = (min: number, max: number) => fc.array(fc.constantFrom(...LABELS), { minLength: min, maxLength: max })
const hostSpec: fc.Arbitrary<HostSpec> = fc.oneof(
  labels(1, 3).map((l): HostSpec => ({ kind: 'exact', text: l.join('.') })),
  fc.constant<HostSpec>({ kind: 'exact', text: '[::1]' }),
  labels(1, 2).map((l): HostSpec => ({ kind: 'suffix', text: `.${l.join('.')}` })),
  labels(1, 2).map((l): HostSpec => ({ kind: 'prefix', text: `${l.join('.')}.` })),
)
const hostPattern = (h: HostSpec) => (h.kind === 'exact' ? h.text : h.kind === 'suffix' ? `*${h.text}` : `${h.text}*`)

const SEGMENTS = ['', 'a', 'b', 'ab', 'a.b', 'A', '%2F', 'x']
const pathText = fc.array(fc.constantFrom(...SEGMENTS), { minLength: 0, maxLength: 3 })
  .chain((segs) => fc.boolean().map((slash) => `/${segs.join('/')}${slash && segs.length > 0 ? '/' : ''}`))
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH']
const HEADER_NAMES = ['x-env', 'x-user', 'accept', 'cookie']
const HEADER_VALUES = ['beta', 'prod', 'Beta', '', '1', 'a, b', '*']

/** Present in about one route in three, so that routes are mostly one or two conditions and often match. */
const sometimes = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb })
const routeSpec: fc.Arbitrary<RouteSpec> = fc.record({
  host: sometimes(hostSpec),
  path: sometimes(pathText),
  pathExact: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: pathText }),
  pathRegex: sometimes(fc.record({ start: fc.boolean(), literal: fc.constantFrom('/', '/a', 'a', 'b/', '.b', 'A', '/a/b', 'x'), end: fc.boolean() })),
  method: sometimes(fc.oneof(fc.constantFrom(...METHODS, 'get', 'Post'), fc.uniqueArray(fc.constantFrom(...METHODS, 'head'), { minLength: 1, maxLength: 3 }))),
  headers: sometimes(fc.dictionary(fc.constantFrom(...HEADER_NAMES, 'X-Env', 'X-USER'), fc.constantFrom(...HEADER_VALUES), { maxKeys: 2 })),
}).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as RouteSpec)

function toConfig(r: RouteSpec, flips: readonly boolean[]): RouteMatchConfig {
  const m: Record<string, unknown> = {}
  if (r.host !== undefined) m.host = randomCase(hostPattern(r.host), flips)
  if (r.path !== undefined) m.path = r.path
  if (r.pathExact !== undefined) m.pathExact = r.pathExact
  if (r.pathRegex !== undefined) m.pathRegex = regexSource(r.pathRegex)
  if (r.method !== undefined) m.method = r.method
  if (r.headers !== undefined) m.headers = r.headers
  return m as RouteMatchConfig
}

const hostHeader = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(labels(0, 4), fc.constantFrom('', ':80', ':8080', ':'), fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }))
    .map(([l, port, flips]) => randomCase(l.join('.'), flips) + port) },
  { weight: 1, arbitrary: fc.constantFrom('[::1]', '[::1]:8080', '[::2]:80', '.example.com', 'a..example.com', 'www.', 'WWW.EXAMPLE.COM.') },
)
const request = fc.record({
  method: fc.constantFrom(...METHODS),
  path: pathText,
  query: fc.constantFrom('', '?', '?x=/a', '?a/b', '?/'),
  host: fc.option(hostHeader, { nil: undefined }),
  headers: fc.dictionary(fc.constantFrom(...HEADER_NAMES), fc.oneof(fc.constantFrom(...HEADER_VALUES),
    fc.array(fc.constantFrom(...HEADER_VALUES), { minLength: 1, maxLength: 2 })), { maxKeys: 3 }),
}).map((r): RouteRequest => {
  const headers: IncomingHttpHeaders = { ...r.headers }
  if (r.host !== undefined) headers.host = r.host
  return { method: r.method, url: r.path + r.query, headers }
})

/** A request built to meet `r` (as far as its conditions allow together), then perhaps nudged off it. */
function aimedAt(r: RouteSpec): fc.Arbitrary<RouteRequest> {
  return fc.record({
    base: request,
    flips: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    port: fc.constantFrom('', ':8080'),
    extra: fc.constantFrom('', 'a', '/b', 'x.b'),
    label: fc.constantFrom('a', 'www', 'x'),
    pick: fc.nat(),
    nudge: fc.constantFrom('none', 'none', 'none', 'method', 'path', 'host', 'header'),
  }).map(({ base, flips, port, extra, label, pick, nudge }): RouteRequest => {
    const headers: IncomingHttpHeaders = { ...base.headers }
    if (r.host !== undefined) {
      const h = r.host.kind === 'exact' ? r.host.text : r.host.kind === 'suffix' ? label + r.host.text : r.host.text + label
      headers.host = randomCase(h, flips) + port
    }
    let path = r.pathExact ?? (r.path !== undefined ? r.path + extra : base.url.split('?')[0])
    if (r.pathRegex !== undefined && r.pathExact === undefined && r.path === undefined) {
      const { start, literal, end } = r.pathRegex
      path = `${start ? '' : '/x'}${literal}${end ? '' : extra}`
    }
    const methods = r.method === undefined ? [base.method] : (typeof r.method === 'string' ? [r.method] : r.method)
    let method = methods[pick % methods.length].toUpperCase()
    for (const [name, want] of Object.entries(r.headers ?? {})) headers[name.toLowerCase()] = want === '*' ? 'anything' : want
    if (nudge === 'method') method = method === 'GET' ? 'POST' : 'GET'
    if (nudge === 'path') path = path.length > 1 ? path.slice(0, -1) : '/zz'
    if (nudge === 'host') headers.host = `z${headers.host ?? ''}`
    if (nudge === 'header') delete headers[HEADER_NAMES[pick % HEADER_NAMES.length]]
    return { method, url: path + base.url.slice(base.url.split('?')[0].length), headers }
  })
}

/** The reference: written from the documented rules, not from match.ts. */
function referenceMatch(routes: readonly RouteSpec[], req: RouteRequest): number | undefined {
  const q = req.url.indexOf('?')
  const path = q < 0 ? req.url : req.url.slice(0, q)
  const rawHost = req.headers.host ?? ''
  let host: string
  if (rawHost.startsWith('[')) host = rawHost.includes(']') ? rawHost.slice(0, rawHost.indexOf(']') + 1) : rawHost
  else host = rawHost.includes(':') ? rawHost.slice(0, rawHost.lastIndexOf(':')) : rawHost
  host = host.toLowerCase()
  outer: for (let i = 0; i < routes.length; i++) {
    const r = routes[i]
    if (r.host !== undefined) {
      const t = r.host.text.toLowerCase()
      if (r.host.kind === 'exact' && host !== t) continue
      if (r.host.kind === 'suffix' && !(host.endsWith(t) && host.length - t.length >= 1)) continue
      if (r.host.kind === 'prefix' && !(host.startsWith(t) && host.length - t.length >= 1)) continue
    }
    if (r.path !== undefined && path.slice(0, r.path.length) !== r.path) continue
    if (r.pathExact !== undefined && path !== r.pathExact) continue
    if (r.pathRegex !== undefined && !regexMatches(r.pathRegex, path)) continue
    if (r.method !== undefined) {
      const list = typeof r.method === 'string' ? [r.method] : r.method
      if (!list.some((m) => m.toUpperCase() === req.method)) continue
    }
    for (const [name, want] of Object.entries(r.headers ?? {})) {
      const raw = req.headers[name.toLowerCase()]
      if (raw === undefined) continue outer
      const got = typeof raw === 'string' ? raw : raw.join(', ')
      if (want !== '*' && got !== want) continue outer
    }
    return i
  }
  return undefined
}

test('Router: the first route whose every condition holds, as the reference computes it', () => {
  const table = fc.tuple(fc.array(routeSpec, { maxLength: 7 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }))
    .chain(([routes, flips]) => {
      const aimed = routes.length === 0 ? request : fc.oneof(request, ...routes.map(aimedAt))
      return fc.tuple(fc.constant(routes), fc.constant(flips), fc.array(aimed, { minLength: 1, maxLength: 20 }))
    })
  fc.assert(fc.property(table, ([routes, flips, requests]) => {
    const router = new Router(routes.map((r, i) => ({ match: toConfig(r, flips), value: i })))
    for (const req of requests) {
      assert.equal(router.match(req), referenceMatch(routes, req), `${req.method} ${req.url} host ${JSON.stringify(req.headers.host)} headers ${JSON.stringify(req.headers)}`)
    }
  }), { numRuns: 3_000 })
})

test('Router: a table whose routes all match everything answers its first route', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), request, (n, req) => {
    const router = new Router(Array.from({ length: n }, (_, i) => ({ match: {}, value: i })))
    assert.equal(router.match(req), 0)
  }), { numRuns: 300 })
})

// ---- nginx locations -------------------------------------------------------------------------------------

type Loc =
  | { readonly kind: 'exact' | 'prefix' | 'noregex'; readonly path: string; readonly redirect: boolean; readonly id: string; readonly children: readonly Loc[] }
  | { readonly kind: 'regex'; readonly re: SimpleRegex; readonly caseless: boolean; readonly id: string; readonly children: readonly Loc[] }

const URI_PARTS = ['a', 'b', 'ab', 'A', 'x.js', 'X.JS', '']
const uri = fc.array(fc.constantFrom(...URI_PARTS), { maxLength: 4 })
  .chain((parts) => fc.boolean().map((slash) => `/${parts.join('/')}${slash && parts.length > 0 ? '/' : ''}`))
const REGEX_LITERALS = ['a', 'A', '/a', 'b/', '.js', '.JS', 'x', '/', 'ab']

/**
 * Locations as nginx accepts them: texts unique per level (per kind: "= /a" and "/a" may coexist), nested
 * prefixes extend their parent's path, no children under "=", only regexes under a regex.
 */
function levelArb(parent: string | undefined, underRegex: boolean, depth: number, idPrefix: string): fc.Arbitrary<Loc[]> {
  const ext = fc.array(fc.constantFrom('a', 'b', '/', 'ab', 'A'), { maxLength: 2 }).map((p) => p.join(''))
  const base = parent ?? '/'
  const path = parent === undefined ? ext.map((e) => `/${e}`) : ext.map((e) => base + e)
  const regex = fc.record({ start: fc.boolean(), literal: fc.constantFrom(...REGEX_LITERALS), end: fc.boolean() })
  type Draft = { kind: 'exact' | 'prefix' | 'noregex'; path: string; redirect: boolean } | { kind: 'regex'; re: SimpleRegex; caseless: boolean }
  const draft: fc.Arbitrary<Draft> = underRegex
    ? fc.record({ kind: fc.constant('regex' as const), re: regex, caseless: fc.boolean() })
    : fc.oneof(
      fc.record({ kind: fc.constantFrom('exact' as const, 'prefix' as const, 'prefix' as const, 'noregex' as const), path, redirect: fc.boolean() }),
      fc.record({ kind: fc.constant('regex' as const), re: regex, caseless: fc.boolean() }),
    )
  return fc.array(draft, { maxLength: depth === 0 ? 6 : 3 }).chain((drafts) => {
    // nginx refuses duplicate locations: drop a repeated text within its kind group.
    const seen = new Set<string>()
    const unique = drafts.filter((d) => {
      const key = d.kind === 'regex' ? `~${d.caseless ? '*' : ''} ${regexSource(d.re)}` : `${d.kind === 'exact' ? '=' : 'p'} ${d.path}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
    const withChildren = unique.map((d, i): fc.Arbitrary<Loc> => {
      const id = `${idPrefix}${i}`
      const kids = depth >= 2 || d.kind === 'exact' ? fc.constant<Loc[]>([])
        : fc.oneof({ weight: 2, arbitrary: fc.constant<Loc[]>([]) },
          { weight: 1, arbitrary: levelArb(d.kind === 'regex' ? undefined : d.path, d.kind === 'regex', depth + 1, `${id}.`) })
      return kids.map((children): Loc => (d.kind === 'regex' ? { ...d, id, children } : { ...d, id, children }))
    })
    return withChildren.length === 0 ? fc.constant<Loc[]>([]) : fc.tuple(...withChildren)
  })
}

function toSpecs(level: readonly Loc[]): LocationSpec<string>[] {
  return level.map((l) => ({
    location: l.kind === 'regex' ? `${l.caseless ? '~*' : '~'} ${regexSource(l.re)}`
      : `${l.kind === 'exact' ? '= ' : l.kind === 'noregex' ? '^~ ' : ''}${l.path}`,
    value: l.id,
    autoRedirect: l.kind !== 'regex' && l.redirect,
    children: l.children.length === 0 ? undefined : toSpecs(l.children),
  }))
}

type Found = { loc: Loc; redirect: boolean }
/** stop: the search ended at this level (an exact, a regex, or a redirect); else `remembered` is the deepest prefix. */
type LevelResult = { stop: true; found: Found } | { stop: false; remembered: Loc | undefined }

function regexTest(l: Loc & { kind: 'regex' }, u: string): boolean {
  return l.caseless ? regexMatches({ ...l.re, literal: l.re.literal.toLowerCase() }, u.toLowerCase()) : regexMatches(l.re, u)
}

function referenceLevel(level: readonly Loc[], u: string): LevelResult {
  const exact = level.find((l) => l.kind === 'exact' && l.path === u)
  if (exact !== undefined) return { stop: true, found: { loc: exact, redirect: false } }
  let longest: Loc | undefined
  for (const l of level) {
    if ((l.kind === 'prefix' || l.kind === 'noregex') && u.startsWith(l.path)
      && (longest === undefined || l.path.length > (longest as { path: string }).path.length)) longest = l
  }
  const equalPrefix = longest !== undefined && (longest as { path: string }).path === u
  if (!equalPrefix) {
    const redirect = level.find((l) => l.kind !== 'regex' && l.redirect && l.path.length > 1 && l.path === `${u}/`)
    if (redirect !== undefined) return { stop: true, found: { loc: redirect, redirect: true } }
  }
  let remembered = longest
  if (longest !== undefined && longest.children.length > 0) {
    const nested = referenceLevel(longest.children, u)
    if (nested.stop) return nested
    if (nested.remembered !== undefined) remembered = nested.remembered
  }
  if (longest === undefined || longest.kind !== 'noregex') {
    for (const l of level) {
      if (l.kind !== 'regex' || !regexTest(l, u)) continue
      if (l.children.length === 0) return { stop: true, found: { loc: l, redirect: false } }
      const nested = referenceLevel(l.children, u)
      // Under a regex, whatever the nested level chose is served as a plain match.
      const chosen = nested.stop ? nested.found.loc : nested.remembered ?? l
      return { stop: true, found: { loc: chosen, redirect: false } }
    }
  }
  return { stop: false, remembered }
}

function referenceFind(level: readonly Loc[], u: string): string | undefined {
  const r = referenceLevel(level, u)
  if (r.stop) return r.found.redirect ? `redirect:${r.found.loc.id}` : r.found.loc.id
  return r.remembered?.id
}

/** Every path in the table, and the URIs that sit on its edges: the path without its last character, and longer. */
function edges(level: readonly Loc[]): string[] {
  const out: string[] = []
  for (const l of level) {
    if (l.kind !== 'regex') out.push(l.path, l.path.slice(0, -1) || '/', `${l.path}x.js`, `${l.path}/A`)
    out.push(...edges(l.children))
  }
  return out
}

test('LocationTable: nginx\'s location search, as the reference computes it', () => {
  const table = levelArb(undefined, false, 0, 'L').chain((locations) => {
    const near = edges(locations)
    const aimed = near.length === 0 ? uri : fc.oneof(uri, fc.constantFrom(...near))
    return fc.tuple(fc.constant(locations), fc.array(aimed, { minLength: 1, maxLength: 25 }))
  })
  fc.assert(fc.property(table, ([locations, uris]) => {
    const table = new LocationTable(toSpecs(locations))
    for (const u of uris) {
      const m = table.find(u)
      const actual = m === undefined ? undefined : m.redirect ? `redirect:${m.value}` : m.value
      assert.equal(actual, referenceFind(locations, u), `uri ${u} in ${JSON.stringify(toSpecs(locations))}`)
    }
  }), { numRuns: 3_000 })
})
