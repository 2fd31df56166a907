/**
 * Why a request on a listener with `virtualHosts` (nginx server blocks) takes the server and location it
 * takes: which server_name rule chose the server, and for each location of the levels searched why it
 * was or was not chosen ("prefix /api/ matches, but /api/v2/ is longer", "~ \.php$ does not match"). Pure.
 *
 * The verdict is the router's (`ServerTable.select`, `LocationTable.find` in src/router/nginx.ts): the
 * caller passes it in. This file repeats nginx's search only to phrase the reasons, so a future change of
 * the search shows as a note, never as a wrong verdict.
 */
import type { LocationConfig, VirtualHostConfig } from '../config/schema.ts'
import { describeAction } from '../control/config-diff.ts'
import { compileLocationRegex, parseLocation, parseServerName } from '../router/nginx.ts'
import type { RouteVerdict } from './explain-route.ts'

/** Which server a validated Host (`validHost`: undefined for a bad Host, "" for none) selects, and why. */
export function explainServer(hosts: readonly VirtualHostConfig[], host: string | undefined): { index: number; how: string } {
  const fallback = Math.max(0, hosts.findIndex((h) => h.default))
  const why = hosts[fallback].default ? 'the default server (default: true)' : 'the default server (the first)'
  if (host === undefined) return { index: fallback, how: `the Host header is invalid: ${why} answers 400` }
  const all = hosts.flatMap((h, index) => h.names.map((name) => ({ index, name, parsed: parseServerName(name) })))
  for (const s of all) {
    const p = s.parsed
    if (('kind' in p && p.kind === 'exact' && p.text === host) || ('kind' in p && p.kind === 'head' && p.alsoExact && p.suffix.slice(1) === host)) {
      return { index: s.index, how: `server_name ${s.name} is the Host ${host}` }
    }
  }
  if (host === '') return { index: fallback, how: `no Host header: ${why}` }
  const longest = (kind: 'head' | 'tail'): { index: number; name: string; length: number } | undefined => {
    let best: { index: number; name: string; length: number } | undefined
    for (const s of all) {
      const p = s.parsed
      if (!('kind' in p) || p.kind !== kind) continue
      const text = p.kind === 'head' ? p.suffix : p.kind === 'tail' ? p.prefix : ''
      const ok = host.length > text.length && (kind === 'head' ? host.endsWith(text) : host.startsWith(text))
      if (ok && (best === undefined || text.length > best.length)) best = { index: s.index, name: s.name, length: text.length }
    }
    return best
  }
  const head = longest('head')
  if (head !== undefined) return { index: head.index, how: `server_name ${head.name}: the longest leading wildcard matching ${host}` }
  const tail = longest('tail')
  if (tail !== undefined) return { index: tail.index, how: `server_name ${tail.name}: the longest trailing wildcard matching ${host}` }
  for (const s of all) {
    if ('kind' in s.parsed && s.parsed.kind === 'regex' && s.parsed.regex.test(host)) return { index: s.index, how: `server_name ${s.name}: the first regular expression matching ${host}` }
  }
  return { index: fallback, how: `no server_name matches ${host}: ${why}` }
}

/** Every location of every virtual host in build order (depth-first, parent first), as action indexes count them. */
export function flattenLocations(hosts: readonly VirtualHostConfig[]): LocationConfig[] {
  const out: LocationConfig[] = []
  const walk = (locs: readonly LocationConfig[]): void => { for (const l of locs) { out.push(l); walk(l.locations ?? []) } }
  for (const h of hosts) walk(h.locations)
  return out
}

/**
 * A verdict for each location of the levels nginx searches for `uri`, in the order written. `index` is
 * the location's action index (its place in `flattenLocations`); `chosen` is the router's pick (an index,
 * or undefined for 404), so the taken location is the router's even if this walk would phrase it otherwise.
 */
export function explainLocations(host: VirtualHostConfig, firstIndex: number, uri: string, chosen: number | undefined): RouteVerdict[] {
  const out: RouteVerdict[] = []
  const indexOf = new Map<LocationConfig, number>()
  let next = firstIndex
  const number = (locs: readonly LocationConfig[]): void => { for (const l of locs) { indexOf.set(l, next++); number(l.locations ?? []) } }
  number(host.locations)
  /** Returns the reasons list, so that a later finding ("but a regex matched") can be added to it. */
  const verdict = (loc: LocationConfig, reason: string, depth: string): string[] => {
    const index = indexOf.get(loc) as number
    const reasons = [reason]
    out.push({ label: `location ${depth}${loc.location}`, index, description: `location ${loc.location} -> ${describeAction(loc)}`, matched: index === chosen, reasons })
    return reasons
  }
  const level = (locs: readonly LocationConfig[], depth: string): boolean => {
    const parsed = locs.map((loc) => ({ loc, p: parseLocation(loc.location) }))
    const exact = parsed.find((x) => 'kind' in x.p && x.p.kind === 'exact' && x.p.text === uri)
    const prefixes = parsed.filter((x) => 'kind' in x.p && (x.p.kind === 'prefix' || x.p.kind === 'noregex'))
    const best = exact === undefined ? [...prefixes].sort((a, b) => text(b.p).length - text(a.p).length).find((x) => uri.startsWith(text(x.p))) : undefined
    // nginx's auto redirect: "/x" to "/x/" when a forwarding "/x/" exists and no prefix covers all of "/x".
    const redirect = exact === undefined && (best === undefined || text(best.p).length < uri.length)
      && prefixes.some((x) => x.loc.forward !== undefined && text(x.p).length > 1 && text(x.p) === `${uri}/`)
    let stopped = exact !== undefined ? 'an exact location matched'
      : redirect ? `the URI is ${uri}: location ${uri}/ redirects it`
        : best !== undefined && kind(best.p) === 'noregex' ? `^~ ${text(best.p)} stops the regex search` : ''
    let regexTaken: string | undefined
    let done = exact !== undefined || redirect
    let longest: string[] | undefined
    for (const { loc, p } of parsed) {
      const k = kind(p)
      const t = text(p)
      if (k === 'exact') verdict(loc, t === uri ? `= ${t} is the URI` : `= ${t} is not the URI ${uri}`, depth)
      else if (k === 'prefix' || k === 'noregex') {
        if (!uri.startsWith(t)) {
          const redirects = redirect && loc.forward !== undefined && t === `${uri}/`
          verdict(loc, redirects ? `the URI is ${uri} and this location forwards: nginx answers 301 to ${t}` : `prefix ${t} does not match ${uri}`, depth)
        } else if (exact !== undefined) verdict(loc, `prefix ${t} matches, but = ${uri} is exact`, depth)
        else if (redirect) verdict(loc, `prefix ${t} matches, but ${uri}/ redirects ${uri}`, depth)
        else if (best !== undefined && best.loc !== loc) verdict(loc, `prefix ${t} matches, but ${text(best.p)} is longer`, depth)
        else {
          longest = verdict(loc, `the longest matching prefix${k === 'noregex' ? ' (^~: no regular expression is tried)' : ''}`, depth)
          if ((loc.locations ?? []).length > 0 && level(loc.locations ?? [], `${depth}${loc.location} > `)) {
            done = true
            stopped ||= `a location nested in ${t} matched`
            longest.push('a location nested in it matched')
          }
        }
      } else if (done || stopped !== '') verdict(loc, `not tried: ${stopped}`, depth)
      else if (regexTaken !== undefined) verdict(loc, `not tried: ${regexTaken} matched first`, depth)
      else if (compileLocationRegex(t, k === 'regex-i').test(uri)) {
        verdict(loc, `${k === 'regex' ? '~' : '~*'} ${t} matches ${uri}, the first regular expression that does`, depth)
        regexTaken = `${k === 'regex' ? '~' : '~*'} ${t}`
        longest?.push(`but ${regexTaken} matched`)
        level(loc.locations ?? [], `${depth}${loc.location} > `)
      } else verdict(loc, `${k === 'regex' ? '~' : '~*'} ${t} does not match ${uri}`, depth)
    }
    return exact !== undefined || regexTaken !== undefined || done
  }
  level(host.locations, '')
  return out
}

function kind(p: ReturnType<typeof parseLocation>): string {
  return 'kind' in p ? p.kind : 'invalid'
}

function text(p: ReturnType<typeof parseLocation>): string {
  return 'text' in p ? p.text : ''
}
