/**
 * nginx's value syntaxes: times ("1h 30m", "500ms", a bare number is seconds), sizes ("8k", "1m", "1g"),
 * addresses ("10.0.0.1:8080", "[::1]", "backend") and client address rules ("10.0.0.0/8", "all").
 */
import { isIP, isIPv4, isIPv6 } from 'node:net'

const TIME_UNITS: [string, number][] = [
  ['y', 365 * 86_400_000], ['M', 30 * 86_400_000], ['w', 7 * 86_400_000], ['d', 86_400_000],
  ['h', 3_600_000], ['ms', 1], ['m', 60_000], ['s', 1000],
]

/** Milliseconds, or undefined when nginx would say "invalid value". */
export function parseTime(text: string): number | undefined {
  const trimmed = text.trim()
  if (trimmed === '') return undefined
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  let total = 0
  let rest = trimmed
  let lastScale = Infinity
  while (rest !== '') {
    const m = /^(\d+)(ms|[yMwdhms])\s*/.exec(rest)
    if (m === null) return undefined
    const scale = TIME_UNITS.find(([unit]) => unit === m[2])?.[1] ?? 0
    // Units go from the largest to the smallest, each once ("1h 30m", not "30m 1h").
    if (scale >= lastScale) return undefined
    lastScale = scale
    total += Number(m[1]) * scale
    rest = rest.slice(m[0].length)
  }
  return Number.isSafeInteger(total) ? total : undefined
}

/** Bytes, or undefined. `k`/`m`/`g` (either case) multiply by 1024 each. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text.trim())
  if (m === null) return undefined
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()] ?? 1
  const bytes = Number(m[1]) * scale
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

export type HostPort = {
  /** undefined for "*" or a bare port (all addresses). IPv6 without brackets. */
  host: string | undefined
  port: number
  /** The port was written (not the default). */
  explicitPort: boolean
}

/**
 * `[ADDRESS][:PORT]`, `PORT`, `[v6][:PORT]`, `*:PORT`; a missing port is `defaultPort`. `portOnly`: a bare
 * number is a port (listen), not a host.
 */
export function parseHostPort(text: string, defaultPort: number, portOnly: boolean): HostPort | undefined {
  if (portOnly && /^\d+$/.test(text)) return port(text) === undefined ? undefined : { host: undefined, port: Number(text), explicitPort: true }
  let host: string
  let portText: string | undefined
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(text)
  if (v6 !== null) {
    if (!isIPv6(v6[1])) return undefined
    host = v6[1]
    portText = v6[2]
  } else {
    const colon = text.lastIndexOf(':')
    if (colon >= 0) {
      host = text.slice(0, colon)
      portText = text.slice(colon + 1)
    } else host = text
    if (host !== '*' && !isIPv4(host) && !HOSTNAME.test(host)) return undefined
  }
  const value = portText === undefined ? defaultPort : port(portText)
  if (value === undefined) return undefined
  return { host: host === '*' ? undefined : host, port: value, explicitPort: portText !== undefined }
}

const HOSTNAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const n = Number(text)
  return n >= 1 && n <= 65535 ? n : undefined
}

/** `host:port` as Fulcrum writes addresses: IPv6 in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Whether a regular expression (location ~, server_name ~) compiles in JavaScript, which Fulcrum matches with. */
export function compiles(source: string, ignoreCase = false): boolean {
  try {
    new RegExp(source, ignoreCase ? 'i' : '')
    return true
  } catch {
    return false
  }
}

export function isIpAddress(host: string): boolean {
  return isIP(host) !== 0
}

/**
 * An allow/deny argument: `all`, an address, or a CIDR. Returns a warning when the address has bits set
 * past the mask (nginx: "low address bits … are meaningless"), or undefined when invalid.
 */
export function checkAccessRule(text: string): { ok: true; warning?: string } | undefined {
  if (text === 'all') return { ok: true }
  const slash = text.indexOf('/')
  const address = slash < 0 ? text : text.slice(0, slash)
  const family = isIP(address)
  if (family === 0) return undefined
  if (slash < 0) return { ok: true }
  const bitsText = text.slice(slash + 1)
  const max = family === 4 ? 32 : 128
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) return undefined
  const bits = Number(bitsText)
  const value = family === 4 ? ipv4Bits(address) : ipv6Bits(address)
  const hostMask = (1n << BigInt(max - bits)) - 1n
  if ((value & hostMask) !== 0n) return { ok: true, warning: `low address bits of ${text} are meaningless` }
  return { ok: true }
}

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
}

function ipv6Bits(address: string): bigint {
  let text = address
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    const n = ipv4Bits(v4[1])
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const headParts = head === '' ? [] : head.split(':')
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = tail === undefined ? [] : Array(8 - headParts.length - tailParts.length).fill('0')
  return [...headParts, ...fill, ...tailParts].reduce((acc, part) => (acc << 16n) | BigInt(parseInt(part, 16)), 0n)
}
