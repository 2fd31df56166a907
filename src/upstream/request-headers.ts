/**
 * The header list a target receives: the client's headers in their order, less the hop-by-hop ones
 * (RFC 9110 §7.6.1: Connection and the fields it names, Proxy-Connection, Keep-Alive, TE,
 * Transfer-Encoding, Upgrade), plus the forwarding headers. Built once per request as a flat
 * [name, value, …] array, which undici takes as it is.
 */
import { randomUUID } from 'node:crypto'
import { evaluate, type Template, type TemplateSource } from './templates.ts'

export interface ForwardingOptions {
  /** Add X-Forwarded-For/-Proto/-Host/-Port and X-Real-IP. */
  readonly forwardedHeaders: boolean
  /** Keep or generate X-Request-Id. */
  readonly requestId: boolean
  /** The listener's port, as a string, for X-Forwarded-Port. */
  readonly port: string
  readonly proto: string
  /** Keep Connection/Upgrade (for an Upgrade request that is tunnelled as it is). */
  readonly keepUpgrade?: boolean
  /** The address appended to X-Forwarded-For when it is not the client (behind trusted proxies: the peer). */
  readonly hop?: string
  /** Drop the X-Forwarded-For the client sent (it came from a peer that is not trusted). */
  readonly replaceForwardedFor?: boolean
}

/** What the builder found in the client's headers that the caller needs. */
export interface HeaderFacts {
  requestId: string
}

// Names we always drop from what the client sent; the forwarding ones are replaced by ours.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade'])
// undici refuses Expect; the balancer answers 100-continue itself (as nginx does) and streams the body.
const REFUSED = new Set(['expect'])
const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip'])

// Lengths of every name above: most headers are passed over by one array lookup, without lower-casing.
const CANDIDATE_LENGTH: boolean[] = []
for (const n of [...HOP_BY_HOP, ...REFUSED, ...FORWARDING, 'x-request-id', 'host']) CANDIDATE_LENGTH[n.length] = true

function connectionTokens(value: string): Set<string> | undefined {
  let extra: Set<string> | undefined
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase()
    if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade') continue
    ;(extra ??= new Set()).add(token)
  }
  return extra
}

export function buildUpstreamHeaders(raw: readonly string[], clientIp: string, options: ForwardingOptions,
  facts: HeaderFacts): string[] {
  const out: string[] = []
  let forwardedFor: string | undefined
  let host: string | undefined
  let requestId: string | undefined
  let named: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    const value = raw[i + 1]
    if (CANDIDATE_LENGTH[name.length] === true) {
      const lower = name.toLowerCase()
      if (lower === 'host') host = value
      else if (lower === 'connection') {
        const tokens = connectionTokens(value)
        if (tokens !== undefined) for (const t of tokens) (named ??= new Set()).add(t)
        if (options.keepUpgrade === true) { out.push(name, value) }
        continue
      } else if (lower === 'upgrade' && options.keepUpgrade === true) {
        out.push(name, value)
        continue
      } else if (HOP_BY_HOP.has(lower) || REFUSED.has(lower)) continue
      else if (options.forwardedHeaders && FORWARDING.has(lower)) {
        // The client's X-Forwarded-For is kept and appended to (unless replaced); the rest describe our hop and are replaced.
        if (lower === 'x-forwarded-for' && options.replaceForwardedFor !== true) forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`
        continue
      } else if (lower === 'x-request-id' && options.requestId) {
        requestId ??= value
        continue
      }
    }
    out.push(name, value)
  }
  if (named !== undefined) {
    // Fields the client named in Connection are hop-by-hop too. Rare, so filtered in a second pass.
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (named.has(out[i].toLowerCase()) && !(options.keepUpgrade === true && out[i].toLowerCase() === 'upgrade')) {
        out.splice(i, 2)
      }
    }
  }
  if (options.forwardedHeaders) {
    out.push(
      'x-forwarded-for', forwardedFor === undefined ? options.hop ?? clientIp : `${forwardedFor}, ${options.hop ?? clientIp}`,
      'x-forwarded-proto', options.proto,
      'x-real-ip', clientIp,
      'x-forwarded-port', options.port,
    )
    if (host !== undefined) out.push('x-forwarded-host', host)
  }
  if (options.requestId) {
    requestId ??= randomUUID()
    out.push('x-request-id', requestId)
    facts.requestId = requestId
  }
  return out
}

/** What nginx never passes from the client (its default proxy_set_header list: Host, Connection, …). */
const NGINX_NOT_PASSED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'te', 'keep-alive', 'expect', 'upgrade'])
/** Managed by the pool (undici refuses or sets them itself), so a setHeaders entry of these names is not sent. */
const POOL_MANAGED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'content-length'])

export interface NginxHeaderOptions {
  /** undefined is taken as none set. */
  readonly setHeaders: ReadonlyArray<readonly [name: string, lower: string, value: Template]> | undefined
  readonly setNames: ReadonlySet<string>
  readonly passRequestHeaders: boolean
}

/**
 * The header list as nginx builds it with proxy_set_header: the set headers in order (empty values not
 * sent), then `Host: $proxy_host` unless Host was set, then Content-Length, then the client's headers in
 * their order, less those set and less Host, Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade and
 * Expect. nginx's `Connection: close` is not sent: the pool keeps target connections alive.
 */
export function buildNginxUpstreamHeaders(raw: readonly string[], options: NginxHeaderOptions, source: TemplateSource,
  contentLength: string | undefined): string[] {
  const out: string[] = []
  let hostSet = false
  const set = options.setHeaders ?? []
  for (let i = 0; i < set.length; i++) {
    const [name, lower, template] = set[i]
    if (lower === 'host') hostSet = true
    if (POOL_MANAGED.has(lower)) continue
    const value = evaluate(template, source)
    if (value !== '') out.push(name, value)
  }
  if (!hostSet) out.push('Host', source.proxyHost ?? '')
  if (contentLength !== undefined) out.push('Content-Length', contentLength)
  if (!options.passRequestHeaders) return out
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase()
    if (NGINX_NOT_PASSED.has(lower) || options.setNames.has(lower)) continue
    out.push(raw[i], raw[i + 1])
  }
  return out
}

const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te'])

function text(value: Buffer | string): string {
  return typeof value === 'string' ? value : value.toString('latin1')
}

/**
 * The target's response headers for the client, as a flat [name, value, …] array of strings, less the
 * hop-by-hop ones and the fields its Connection header names (node sets its own Connection, Keep-Alive
 * and Transfer-Encoding).
 */
export function clientResponseHeaders(raw: readonly (Buffer | string)[], extraName: string | undefined,
  extraValue: string | undefined): string[] {
  const out: string[] = []
  let named: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = text(raw[i])
    const len = name.length
    if ((len === 10 || len === 16 || len === 17 || len === 7 || len === 2) && RESPONSE_HOP_BY_HOP.has(name.toLowerCase())) {
      if (len === 10 && name.toLowerCase() === 'connection') named = connectionTokens(text(raw[i + 1]))
      continue
    }
    out.push(name, text(raw[i + 1]))
  }
  if (named !== undefined) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (named.has(out[i].toLowerCase())) out.splice(i, 2)
  }
  if (extraName !== undefined && extraValue !== undefined) out.push(extraName, extraValue)
  return out
}
