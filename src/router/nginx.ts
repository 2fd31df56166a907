/**
 * nginx's two selections, pure: which `server` answers a Host (ngx_http_find_virtual_server) and which
 * `location` answers a normalised URI (ngx_http_core_find_location). Both are compiled once per reload.
 *
 * Server: the exact name; else the longest wildcard starting with "*" (".example.com" counts as both
 * "example.com" and "*.example.com"); else the longest wildcard ending with "*"; else the first regular
 * expression in order; else the listener's default server.
 *
 * Location, at each level: an "=" location equal to the URI stops the search. Else the longest matching
 * prefix ("^~" or plain) is remembered and its nested locations are searched the same way (a nested match
 * that stops, stops); unless that prefix is "^~", the level's regexes ("~", "~*") are then tried in order and
 * the first match wins (its nested locations are searched too); else the remembered (deepest) prefix.
 * Regexes nested in the chosen prefix are therefore tried before the outer level's. A prefix location
 * ending in "/" that forwards also takes the URI without that slash, as a 301 to it (nginx's auto redirect).
 */

/** A location as the table takes it. `T` is whatever the caller attaches (its action). */
export interface LocationSpec<T> {
  /** As written: "= /x", "^~ /x", "~ re", "~* re", "/x". */
  readonly location: string
  readonly value: T
  /** Answer the URI without the trailing slash with a 301 to it (nginx does for proxy_pass). */
  readonly autoRedirect: boolean
  readonly children: ReadonlyArray<LocationSpec<T>> | undefined
}

export type LocationKind = 'exact' | 'prefix' | 'noregex' | 'regex' | 'regex-i'

export interface ParsedLocation {
  readonly kind: LocationKind
  /** The path (as UTF-8 bytes in latin1 chars, as URIs are compared) or the regular expression. */
  readonly text: string
}

/** Splits "^~ /x", "~*\.png$", "/x" into kind and text; an error message when it is not a location. */
export function parseLocation(spec: string): ParsedLocation | { error: string } {
  const m = /^(=|\^~|~\*|~)?\s*(.*)$/s.exec(spec.trim()) as RegExpExecArray
  const modifier = m[1]
  const text = m[2]
  if (text === '') return { error: `"${spec}" has no path or regular expression after the modifier` }
  if (modifier === '~' || modifier === '~*') return { kind: modifier === '~' ? 'regex' : 'regex-i', text }
  if (text.startsWith('@')) return { error: `named locations ("${text}") are not supported; only =, ^~, ~, ~* and prefix locations` }
  if (/\s/.test(text)) return { error: `"${spec}": a location path cannot contain spaces; write one modifier (=, ^~, ~, ~*) then the path` }
  const bytes = Buffer.from(text, 'utf8').toString('latin1')
  return { kind: modifier === '=' ? 'exact' : modifier === '^~' ? 'noregex' : 'prefix', text: bytes }
}

/** Compiles a location regex: PCRE's "(?P<name>" is written "(?<name>" in JavaScript. */
export function compileLocationRegex(text: string, caseless: boolean): RegExp {
  return new RegExp(text.replace(/\(\?P</g, '(?<'), caseless ? 'i' : '')
}

/** What a search found: preallocated per location, so a lookup allocates nothing. */
export interface LocationMatch<T> {
  readonly value: T
  /** true: answer 301 to the URI with "/" appended (auto redirect). */
  readonly redirect: boolean
}

interface Node<T> {
  readonly text: string
  readonly noregex: boolean
  readonly regex: RegExp | undefined
  readonly children: Level<T> | undefined
  readonly found: LocationMatch<T>
  readonly redirectFound: LocationMatch<T>
}

interface Level<T> {
  readonly exact: Map<string, Node<T>> | undefined
  /** Longest first. */
  readonly prefixes: readonly Node<T>[]
  readonly regexes: readonly Node<T>[]
  /** URI without the trailing slash -> the location that redirects it. */
  readonly redirects: Map<string, Node<T>> | undefined
}

const OK = 0
const DONE = 1
const AGAIN = 2
const DECLINED = 3

function buildLevel<T>(specs: ReadonlyArray<LocationSpec<T>>): Level<T> {
  let exact: Map<string, Node<T>> | undefined
  let redirects: Map<string, Node<T>> | undefined
  const prefixes: Node<T>[] = []
  const regexes: Node<T>[] = []
  for (const spec of specs) {
    const parsed = parseLocation(spec.location)
    if ('error' in parsed) throw new Error(`location ${spec.location}: ${parsed.error}`)
    const isRegex = parsed.kind === 'regex' || parsed.kind === 'regex-i'
    const node: Node<T> = {
      text: parsed.text,
      noregex: parsed.kind === 'noregex',
      regex: isRegex ? compileLocationRegex(parsed.text, parsed.kind === 'regex-i') : undefined,
      children: spec.children === undefined || spec.children.length === 0 ? undefined : buildLevel(spec.children),
      found: { value: spec.value, redirect: false },
      redirectFound: { value: spec.value, redirect: true },
    }
    if (isRegex) { regexes.push(node); continue }
    // nginx keeps the first of two equal locations (and refuses duplicates at load; validation does too).
    if (parsed.kind === 'exact') {
      exact ??= new Map()
      if (!exact.has(node.text)) exact.set(node.text, node)
    } else prefixes.push(node)
    if (spec.autoRedirect && node.text.length > 1 && node.text.endsWith('/')) {
      redirects ??= new Map()
      const key = node.text.slice(0, -1)
      if (!redirects.has(key)) redirects.set(key, node)
    }
  }
  // Stable: of two equal prefixes the first stays first.
  prefixes.sort((a, b) => b.text.length - a.text.length)
  return { exact, prefixes, regexes, redirects }
}

/** The locations of one virtual host. */
export class LocationTable<T> {
  readonly #root: Level<T>
  #node: Node<T> | undefined = undefined
  #redirect = false

  constructor(specs: ReadonlyArray<LocationSpec<T>>) {
    this.#root = buildLevel(specs)
  }

  /** The location for a normalised URI (see `normalizeUri`), or undefined when none matches (404). */
  find(uri: string): LocationMatch<T> | undefined {
    this.#node = undefined
    this.#redirect = false
    this.#search(this.#root, uri)
    const node = this.#node as Node<T> | undefined
    if (node === undefined) return undefined
    return this.#redirect ? node.redirectFound : node.found
  }

  /** One level of ngx_http_core_find_location; sets #node to the location chosen so far. */
  #search(level: Level<T>, uri: string): number {
    const exact = level.exact?.get(uri)
    if (exact !== undefined) {
      this.#node = exact
      return OK
    }
    let prefix: Node<T> | undefined
    const prefixes = level.prefixes
    for (let i = 0; i < prefixes.length; i++) {
      if (uri.startsWith(prefixes[i].text)) { prefix = prefixes[i]; break }
    }
    // A prefix equal to the URI wins over the redirect of the same path with "/"; a shorter one does not.
    if (level.redirects !== undefined && (prefix === undefined || prefix.text.length < uri.length)) {
      const redirect = level.redirects.get(uri)
      if (redirect !== undefined) {
        this.#node = redirect
        this.#redirect = true
        return DONE
      }
    }
    let rc = DECLINED
    let noregex = false
    if (prefix !== undefined) {
      this.#node = prefix
      rc = AGAIN
      noregex = prefix.noregex
      if (prefix.children !== undefined) {
        const nested = this.#search(prefix.children, uri)
        if (nested === OK || nested === DONE) return nested
      }
    }
    if (!noregex) {
      const regexes = level.regexes
      for (let i = 0; i < regexes.length; i++) {
        const node = regexes[i]
        if (!(node.regex as RegExp).test(uri)) continue
        this.#node = node
        if (node.children !== undefined) this.#search(node.children, uri)
        // Under a regex, a nested auto redirect is served as a plain match (nginx returns NGX_OK there).
        this.#redirect = false
        return OK
      }
    }
    return rc
  }
}

/** A server_name as written: exact, "*.suffix", "prefix.*", ".both", "~regex", or "" (no Host). */
export type ServerName =
  | { readonly kind: 'exact'; readonly text: string }
  | { readonly kind: 'head'; readonly suffix: string; readonly alsoExact: boolean }
  | { readonly kind: 'tail'; readonly prefix: string }
  | { readonly kind: 'regex'; readonly regex: RegExp }

export function parseServerName(name: string): ServerName | { error: string } {
  if (name.startsWith('~')) {
    const source = name.slice(1)
    try {
      // As nginx: caseless when the expression has an upper-case letter (Hosts are lower-cased anyway).
      return { kind: 'regex', regex: new RegExp(source.replace(/\(\?P</g, '(?<'), /[A-Z]/.test(source) ? 'i' : '') }
    } catch (err) {
      return { error: `the regular expression "${source}" does not compile: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}` }
    }
  }
  const lower = name.toLowerCase()
  if (lower.startsWith('*.') && !lower.slice(1).includes('*')) return { kind: 'head', suffix: lower.slice(1), alsoExact: false }
  if (lower.startsWith('.') && lower.length > 1 && !lower.includes('*')) return { kind: 'head', suffix: lower, alsoExact: true }
  if (lower.endsWith('.*') && !lower.slice(0, -1).includes('*')) return { kind: 'tail', prefix: lower.slice(0, -1) }
  if (lower.includes('*')) {
    return { error: `"${name}": a wildcard is "*" as the first label ("*.example.com") or the last ("www.example.*"); use "~regex" otherwise` }
  }
  if (/[\s/\\]/.test(lower)) return { error: `"${name}" is not a host name` }
  return { kind: 'exact', text: lower }
}

/**
 * The Host as nginx validates it (ngx_http_validate_host): lower-case, port and a trailing dot removed;
 * undefined for a Host nginx refuses with 400 ("..", "/", control bytes, empty). No Host gives "".
 */
export function validHost(raw: string | undefined): string | undefined {
  if (raw === undefined) return ''
  let end = raw.length
  let dot = -2
  let literal = raw.charCodeAt(0) === 91 /* [ */
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i)
    if (c === 46 /* . */) {
      if (dot === i - 1) return undefined
      dot = i
    } else if (c === 58 /* : */) {
      if (!literal) { end = i; break }
    } else if (c === 93 /* ] */ && literal) {
      end = i + 1
      literal = false
      break
    } else if (c === 47 || c === 92 || c <= 32 || c === 127) return undefined
  }
  if (end > 0 && raw.charCodeAt(end - 1) === 46) end--
  if (end === 0) return undefined
  const host = end === raw.length ? raw : raw.slice(0, end)
  // Almost every Host is already lower-case: skip the copy then.
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i)
    if (c >= 65 && c <= 90) return host.toLowerCase()
  }
  return host
}

/** The virtual hosts of one listener. */
export class ServerTable<V> {
  readonly #exact = new Map<string, V>()
  /** [suffix with its leading ".", value], longest suffix first. */
  readonly #head: Array<readonly [string, V]> = []
  /** [prefix with its trailing ".", value], longest prefix first. */
  readonly #tail: Array<readonly [string, V]> = []
  readonly #regex: Array<readonly [RegExp, V]> = []
  readonly #default: V

  /** `hosts` in order; the first with `isDefault`, else the first, takes unmatched names. */
  constructor(hosts: ReadonlyArray<{ readonly names: readonly string[]; readonly isDefault: boolean; readonly value: V }>) {
    if (hosts.length === 0) throw new Error('a listener with virtual hosts needs at least one')
    this.#default = (hosts.find((h) => h.isDefault) ?? hosts[0]).value
    for (const host of hosts) {
      for (const name of host.names) {
        const parsed = parseServerName(name)
        if ('error' in parsed) throw new Error(parsed.error)
        // Of two servers with one name, the first keeps it (nginx warns "conflicting server name").
        switch (parsed.kind) {
          case 'exact':
            if (!this.#exact.has(parsed.text)) this.#exact.set(parsed.text, host.value)
            break
          case 'head':
            this.#head.push([parsed.suffix, host.value])
            if (parsed.alsoExact && !this.#exact.has(parsed.suffix.slice(1))) this.#exact.set(parsed.suffix.slice(1), host.value)
            break
          case 'tail':
            this.#tail.push([parsed.prefix, host.value])
            break
          case 'regex':
            this.#regex.push([parsed.regex, host.value])
        }
      }
    }
    this.#head.sort((a, b) => b[0].length - a[0].length)
    this.#tail.sort((a, b) => b[0].length - a[0].length)
  }

  get default(): V {
    return this.#default
  }

  /** The virtual host for a validated Host ("" when the request had none). */
  select(host: string): V {
    const exact = this.#exact.get(host)
    if (exact !== undefined) return exact
    if (host === '') return this.#default
    for (const [suffix, value] of this.#head) {
      if (host.length > suffix.length && host.endsWith(suffix)) return value
    }
    for (const [prefix, value] of this.#tail) {
      if (host.length > prefix.length && host.startsWith(prefix)) return value
    }
    for (const [regex, value] of this.#regex) if (regex.test(host)) return value
    return this.#default
  }
}
