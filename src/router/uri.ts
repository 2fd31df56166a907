/**
 * nginx's `$uri`: the request path percent-decoded, `//` merged and `.`/`..` segments resolved, as nginx's
 * `ngx_http_parse_complex_uri` makes it (with `merge_slashes on`, the default). Locations match against it.
 * Decoded bytes are kept as one char each (latin1), as node gives the raw request target, so regexes see
 * bytes, as nginx's PCRE does without UTF mode.
 */

/** The path and query of a request target; absolute-form ("http://host/p?q") is cut to its path. */
export function targetPath(target: string): string {
  if (target.charCodeAt(0) === 47 /* / */) return target
  const scheme = target.indexOf('://')
  if (scheme === -1) return target
  const slash = target.indexOf('/', scheme + 3)
  return slash === -1 ? '/' : target.slice(slash)
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  const l = c | 0x20
  return l >= 97 && l <= 102 ? l - 87 : -1
}

/**
 * The normalised path of a request target (its query and `#fragment` left out), or undefined where nginx
 * answers 400: a bad or truncated `%` escape, an encoded NUL, a space or control byte, a path that climbs
 * above the root, or a target that is not a path.
 */
export function normalizeUri(target: string): string | undefined {
  const t = targetPath(target)
  if (t.charCodeAt(0) !== 47) return undefined
  let end = t.length
  let simple = true
  for (let i = 0; i < end; i++) {
    const c = t.charCodeAt(i)
    if (c === 63 /* ? */ || c === 35 /* # */) { end = i; break }
    if (c === 37 /* % */ || c <= 32 || c === 127) simple = false
    else if (c === 47 && i + 1 < t.length) {
      const n = t.charCodeAt(i + 1)
      if (n === 47 || n === 46 /* . */) simple = false
    }
  }
  // The usual path has nothing to decode or resolve: no copy beyond the slice.
  if (simple) return end === t.length ? t : t.slice(0, end)
  let decoded = ''
  for (let i = 0; i < end; i++) {
    const c = t.charCodeAt(i)
    if (c <= 32 || c === 127) return undefined
    if (c !== 37) { decoded += t[i]; continue }
    const hi = i + 1 < end ? hex(t.charCodeAt(i + 1)) : -1
    const lo = i + 2 < end ? hex(t.charCodeAt(i + 2)) : -1
    if (hi < 0 || lo < 0) return undefined
    const byte = hi * 16 + lo
    if (byte === 0) return undefined
    decoded += String.fromCharCode(byte)
    i += 2
  }
  return resolveDots(decoded)
}

/** Merges slashes and resolves "." and ".." on a decoded path; undefined when ".." climbs above "/". */
export function resolveDots(path: string): string | undefined {
  const segments = path.split('/')
  const stack: string[] = []
  let trailing = false
  // segments[0] is the empty text before the leading "/".
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]
    const last = i === segments.length - 1
    if (s === '' || s === '.') { trailing = last; continue }
    if (s === '..') {
      if (stack.length === 0) return undefined
      stack.pop()
      trailing = last
      continue
    }
    stack.push(s)
    trailing = false
  }
  if (stack.length === 0) return '/'
  return `/${stack.join('/')}${trailing ? '/' : ''}`
}

/** The query of a request target without "?" ('' when there is none): nginx's `$args`. */
export function targetArgs(target: string): string {
  const q = target.indexOf('?')
  return q === -1 ? '' : target.slice(q + 1)
}

// nginx's NGX_ESCAPE_URI set: space, "#", "%", "?", control bytes, DEL and bytes above 0x7f.
function escaped(c: number): boolean {
  return c <= 32 || c === 35 || c === 37 || c === 63 || c >= 127
}

const HEX = '0123456789ABCDEF'

/** Escapes a decoded path for a request line as nginx's `ngx_escape_uri(…, NGX_ESCAPE_URI)` does. */
export function escapeUri(path: string): string {
  let i = 0
  while (i < path.length && !escaped(path.charCodeAt(i))) i++
  if (i === path.length) return path
  let out = path.slice(0, i)
  for (; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (!escaped(c)) { out += path[i]; continue }
    // Chars above 0xff come from config text, not from a request: send their UTF-8 bytes.
    if (c > 0xff) { out += encodeURIComponent(path[i]); continue }
    out += `%${HEX[c >> 4]}${HEX[c & 15]}`
  }
  return out
}

/**
 * The request target for a target under proxy.replacePrefix, as nginx's proxy_pass with a URI part: the
 * prefix of the normalised path (`uri`, or derived from `target`) is replaced, the rest escaped again if the
 * client escaped anything (nginx's `r->quoted_uri`), the query kept. A path without the prefix is sent as it came.
 */
export function replacePrefix(target: string, uri: string | undefined, prefix: string, replacement: string): string {
  const path = uri ?? normalizeUri(target)
  if (path === undefined || !path.startsWith(prefix)) return target
  const q = target.indexOf('?')
  const percent = target.indexOf('%')
  const quoted = percent !== -1 && (q === -1 || percent < q)
  const rest = path.slice(prefix.length)
  const args = q === -1 || q === target.length - 1 ? '' : target.slice(q)
  return `${replacement}${quoted ? escapeUri(rest) : rest}${args}`
}
