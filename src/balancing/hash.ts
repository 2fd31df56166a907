/**
 * `hash`: consistent hashing on a key taken from the request, given by `hashKey`:
 *   header:NAME  the first value of that request header
 *   cookie:NAME  the value of that cookie in the Cookie header (surrounding double quotes dropped)
 *   path         the request target up to `?`
 *   client-ip    the client's address
 *   a template   nginx variables, as nginx's `hash $request_uri` or `hash $remote_addr$http_x_user`
 *                (see upstream/templates.ts); an empty result counts as no key
 * The same key reaches the same target while it is eligible; see `hash-ring.ts` for what moves when the
 * targets change. A request without the key (no such header or cookie, or an empty value) falls back to
 * smooth weighted round robin: sending every keyless request to one target would overload it.
 */
import type { Algorithm, AlgorithmFactory, AlgorithmOptions, RequestFacts, Target } from './algorithm.ts'
import { HashRing, hash32 } from './hash-ring.ts'
import { SmoothWeighted } from './smooth-weighted.ts'
// Templates are pure text functions; the exchange that is the RequestFacts also carries their variables.
import { compileTemplate, evaluate, type Template } from '../upstream/templates.ts'

type KeyKind = 'header' | 'cookie' | 'path' | 'client-ip' | 'template'

/** No key in this request (hashes are uint32, so -1 cannot collide with one). */
const MISSING = -1

class ConsistentHash implements Algorithm {
  readonly name = 'hash'
  readonly #ring: HashRing
  readonly #smooth: SmoothWeighted
  readonly #kind: KeyKind
  /** The header (lower-cased, as node gives headers) or cookie name (case-sensitive, per RFC 6265). */
  readonly #key: string
  readonly #template: Template | undefined

  constructor(targets: readonly Target[], options: AlgorithmOptions) {
    const hashKey = options.hashKey ?? ''
    this.#template = undefined
    if (hashKey.includes('$')) {
      this.#kind = 'template'
      this.#key = ''
      this.#template = compileTemplate(hashKey)
    } else if (hashKey === 'path' || hashKey === 'client-ip') {
      this.#kind = hashKey
      this.#key = ''
    } else if (hashKey.startsWith('header:') && hashKey.length > 7) {
      this.#kind = 'header'
      this.#key = hashKey.slice(7).toLowerCase()
    } else if (hashKey.startsWith('cookie:') && hashKey.length > 7) {
      this.#kind = 'cookie'
      this.#key = hashKey.slice(7)
    } else {
      throw new Error(`algorithm hash: hashKey "${hashKey}" is not header:NAME, cookie:NAME, path, client-ip or a template; write e.g. "cookie:session"`)
    }
    this.#ring = new HashRing(targets)
    this.#smooth = new SmoothWeighted(targets)
  }

  pick(eligible: readonly Target[], req: RequestFacts): Target | undefined {
    const hash = this.#keyHash(req)
    return hash === MISSING ? this.#smooth.pick(eligible) : this.#ring.pick(eligible, hash)
  }

  #keyHash(req: RequestFacts): number {
    switch (this.#kind) {
      case 'path': {
        const url = req.url
        const q = url.indexOf('?')
        return hash32(url, 0, q === -1 ? url.length : q)
      }
      case 'client-ip':
        return req.clientIp ? hash32(req.clientIp) : MISSING
      case 'header': {
        const value = req.headers[this.#key]
        const first = typeof value === 'string' ? value : value?.[0]
        return first ? hash32(first) : MISSING
      }
      case 'template': {
        const key = evaluate(this.#template as Template, req)
        return key === '' ? MISSING : hash32(key)
      }
      case 'cookie': {
        const header = req.headers.cookie
        if (typeof header === 'string') return cookieHash(header, this.#key)
        // Node joins repeated Cookie headers into one string; an array only comes from other callers.
        for (let i = 0; header !== undefined && i < header.length; i++) {
          const hash = cookieHash(header[i], this.#key)
          if (hash !== MISSING) return hash
        }
        return MISSING
      }
    }
  }
}

/** Hash of cookie `name`'s value in a Cookie header ("a=1; b=2"), scanned in place: no split, no regex. */
export function cookieHash(header: string, name: string): number {
  let at = 0
  while (at < header.length) {
    while (header.charCodeAt(at) === 32 || header.charCodeAt(at) === 9) at++ // space, tab
    let end = header.indexOf(';', at)
    if (end === -1) end = header.length
    if (header.charCodeAt(at + name.length) === 61 /* = */ && header.startsWith(name, at)) {
      let start = at + name.length + 1
      while (end > start && (header.charCodeAt(end - 1) === 32 || header.charCodeAt(end - 1) === 9)) end--
      if (end - start >= 2 && header.charCodeAt(start) === 34 && header.charCodeAt(end - 1) === 34) {
        start++ // "quoted" values: the quotes are not part of the value (RFC 6265)
        end--
      }
      return end > start ? hash32(header, start, end) : MISSING
    }
    at = end + 1
  }
  return MISSING
}

export const hash: AlgorithmFactory = (targets, options) => new ConsistentHash(targets, options)
