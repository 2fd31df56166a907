/**
 * Reads a PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) from the first bytes of a
 * connection. Pure: no sockets. The listener calls `parseProxyHeader` with everything received so far until
 * the answer is not 'incomplete', then passes on the bytes after `length`. Writing headers is in
 * `proxy-header-encode.ts`.
 */
import { isIPv4, isIPv6 } from 'node:net'

export interface ProxyAddresses {
  readonly family: 'IPv4' | 'IPv6'
  readonly sourceAddress: string
  readonly sourcePort: number
  readonly destinationAddress: string
  readonly destinationPort: number
}

/**
 * A complete header; `length` is how many bytes it took at the start of the buffer. 'local' means "use the
 * connection's own addresses": a v2 LOCAL command (health checks), v1 UNKNOWN, or v2 PROXY for a family or
 * transport other than TCP over IPv4/IPv6 (UNSPEC, UNIX, DGRAM), as HAProxy does.
 */
export type ParsedProxyHeader =
  | { readonly kind: 'proxy'; readonly addresses: ProxyAddresses; readonly length: number; readonly version: 1 | 2 }
  | { readonly kind: 'local'; readonly length: number; readonly version: 1 | 2 }

export type ProxyHeaderResult =
  | ParsedProxyHeader
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }

const V1_PREFIX = Buffer.from('PROXY ', 'latin1')
/** The spec's bound for a v1 line, CRLF included: "PROXY UNKNOWN" with two full IPv6 addresses and ports. */
const V1_MAX_LENGTH = 107
const V1_PROTOCOLS = ['TCP4', 'TCP6', 'UNKNOWN']
const V1_FIELD_NAMES = ['protocol', 'source address', 'destination address', 'source port', 'destination port']

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
/** Signature, version/command, family/transport, then the uint16 length of everything after these 16 bytes. */
const V2_FIXED_LENGTH = 16
/** The family/transport bytes the spec defines (others "must be rejected"), with their address block sizes. */
const V2_ADDRESS_BLOCK = new Map([
  [0x00, 0], // UNSPEC
  [0x11, 12], [0x12, 12], // IPv4 STREAM, DGRAM
  [0x21, 36], [0x22, 36], // IPv6 STREAM, DGRAM
  [0x31, 216], [0x32, 216], // UNIX STREAM, DGRAM
])

const INCOMPLETE: ProxyHeaderResult = { kind: 'incomplete' }
const invalid = (reason: string): ProxyHeaderResult => ({ kind: 'invalid', reason })

/**
 * The header at the start of `buf`, 'incomplete' while `buf` is still the beginning of one, or 'invalid' as
 * soon as it cannot be one. Never throws.
 */
export function parseProxyHeader(buf: Buffer): ProxyHeaderResult {
  if (startsLike(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? INCOMPLETE : parseV1(buf)
  if (startsLike(buf, V2_SIGNATURE)) return buf.length < V2_SIGNATURE.length ? INCOMPLETE : parseV2(buf)
  return invalid('not a PROXY protocol header: expected "PROXY " (v1) or the v2 signature')
}

/** Whether `buf` and `signature` agree on the bytes they both have. */
function startsLike(buf: Buffer, signature: Buffer): boolean {
  const n = Math.min(buf.length, signature.length)
  return buf.subarray(0, n).equals(signature.subarray(0, n))
}

function parseV1(buf: Buffer): ProxyHeaderResult {
  const window = buf.subarray(0, V1_MAX_LENGTH)
  const end = window.indexOf('\r\n')
  if (end === -1) {
    // A final CR may be the first half of the CRLF.
    const upTo = window[window.length - 1] === 0x0d ? window.length - 1 : window.length
    const problem = v1Problem(window.toString('latin1', V1_PREFIX.length, upTo), false)
    if (problem !== undefined) return invalid(problem)
    if (buf.length >= V1_MAX_LENGTH) return invalid(`v1 header has no CRLF within ${V1_MAX_LENGTH} bytes`)
    return INCOMPLETE
  }
  const line = buf.toString('latin1', V1_PREFIX.length, end)
  const problem = v1Problem(line, true)
  if (problem !== undefined) return invalid(problem)
  const length = end + 2
  const [protocol, source, destination, sourcePort, destinationPort] = line.split(' ')
  if (protocol === 'UNKNOWN') return { kind: 'local', version: 1, length }
  const family = protocol === 'TCP4' ? 'IPv4' : 'IPv6'
  // v1Problem has checked that these parse.
  const address = (text: string) => (family === 'IPv4' ? text : formatIPv6(ipv6Bytes(text)!))
  const addresses: ProxyAddresses = {
    family,
    sourceAddress: address(source),
    sourcePort: Number(sourcePort),
    destinationAddress: address(destination),
    destinationPort: Number(destinationPort),
  }
  return { kind: 'proxy', version: 1, length, addresses }
}

/**
 * Why `line` (the text after "PROXY " and before CRLF) is not a v1 header, or undefined if it is one. When
 * `complete` is false the line is still arriving: its last field only has to be the start of a valid one.
 */
function v1Problem(line: string, complete: boolean): string | undefined {
  const fields = line.split(' ')
  const isWhole = (i: number) => complete || i < fields.length - 1
  const protocol = fields[0]
  const knownProtocol = isWhole(0) ? V1_PROTOCOLS.includes(protocol) : V1_PROTOCOLS.some((p) => p.startsWith(protocol))
  if (!knownProtocol) return 'v1 protocol must be TCP4, TCP6 or UNKNOWN'
  // With UNKNOWN, the spec has the receiver ignore everything up to the CRLF.
  if (protocol === 'UNKNOWN' || !isWhole(0)) return undefined
  const family = protocol === 'TCP4' ? 'IPv4' : 'IPv6'
  for (let i = 1; i < Math.min(fields.length, 5); i++) {
    if (i <= 2 && !isAddressField(family, fields[i], isWhole(i))) return `v1 ${V1_FIELD_NAMES[i]} is not an ${family} address`
    if (i >= 3 && !isPortField(fields[i], isWhole(i))) return `v1 ${V1_FIELD_NAMES[i]} must be 0-65535 without leading zeros`
  }
  if (fields.length > 5 || (complete && fields.length < 5)) {
    return 'v1 header must be: PROXY protocol source destination source-port destination-port, single spaces, CRLF'
  }
  return undefined
}

function isAddressField(family: 'IPv4' | 'IPv6', text: string, whole: boolean): boolean {
  if (family === 'IPv4') {
    if (whole) return isIPv4(text)
    const octets = text.split('.')
    return octets.length <= 4 && octets.every((o, i) => isDecimal(o, 255) || (o === '' && i === octets.length - 1))
  }
  // No zone ids ("%eth0"): the v2 block has no room for them and the spec's grammar has none.
  if (!/^[0-9A-Fa-f:.]*$/.test(text) || text.length > 45) return false
  return !whole || ipv6Bytes(text) !== undefined
}

// Every start of a valid port (or octet) is itself valid or empty, so the partial check is simple.
function isPortField(text: string, whole: boolean): boolean {
  return isDecimal(text, 65535) || (!whole && text === '')
}

/** A decimal number up to `max` with no sign and no leading zero. */
function isDecimal(text: string, max: number): boolean {
  return /^(0|[1-9][0-9]{0,4})$/.test(text) && Number(text) <= max
}

function parseV2(buf: Buffer): ProxyHeaderResult {
  // Check each byte as soon as it arrives, so that garbage is refused without waiting for more.
  if (buf.length > 12) {
    const version = buf[12] >> 4
    const command = buf[12] & 0x0f
    if (version !== 2) return invalid(`v2 version nibble is ${version}, not 2`)
    if (command > 1) return invalid(`v2 command is ${command}, neither LOCAL (0) nor PROXY (1)`)
  }
  if (buf.length > 13 && !V2_ADDRESS_BLOCK.has(buf[13])) {
    return invalid(`v2 family/transport byte 0x${buf[13].toString(16).padStart(2, '0')} is not one the spec defines`)
  }
  if (buf.length < V2_FIXED_LENGTH) return INCOMPLETE
  const declared = buf.readUInt16BE(14)
  const isProxy = (buf[12] & 0x0f) === 1
  const block = V2_ADDRESS_BLOCK.get(buf[13]) ?? 0
  // LOCAL discards the address block, so only PROXY needs room for one.
  if (isProxy && declared < block) return invalid(`v2 length ${declared} is shorter than its ${block}-byte address block`)
  const length = V2_FIXED_LENGTH + declared
  if (buf.length < length) return INCOMPLETE
  if (!isProxy || (buf[13] !== 0x11 && buf[13] !== 0x21)) return { kind: 'local', version: 2, length }
  // Any TLVs after the addresses are skipped: `length` covers them.
  const ipv4 = buf[13] === 0x11
  const size = ipv4 ? 4 : 16
  const at = V2_FIXED_LENGTH
  const address = (from: number) =>
    ipv4 ? buf.subarray(from, from + 4).join('.') : formatIPv6(buf.subarray(from, from + 16))
  const addresses: ProxyAddresses = {
    family: ipv4 ? 'IPv4' : 'IPv6',
    sourceAddress: address(at),
    destinationAddress: address(at + size),
    sourcePort: buf.readUInt16BE(at + 2 * size),
    destinationPort: buf.readUInt16BE(at + 2 * size + 2),
  }
  return { kind: 'proxy', version: 2, length, addresses }
}

/**
 * The 16 bytes of an IPv6 address in any textual form Node accepts ("::" and an embedded IPv4 tail included),
 * or undefined if `text` is not one. Zone ids ("%eth0") are refused.
 */
export function ipv6Bytes(text: string): Uint8Array | undefined {
  if (!isIPv6(text) || text.includes('%')) return undefined
  const bytes = new Uint8Array(16)
  let hexPart = text
  let words = 8
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':')
    const tail = text.slice(lastColon + 1)
    if (lastColon === -1 || !isIPv4(tail)) return undefined
    bytes.set(tail.split('.').map(Number), 12)
    // Keep a "::" that ends right before the IPv4 tail ("::1.2.3.4"), drop a single separating colon.
    hexPart = text.slice(0, lastColon)
    if (hexPart.endsWith(':')) hexPart += ':'
    words = 6
  }
  const halves = hexPart.split('::')
  if (halves.length > 2) return undefined
  const groups = (s: string) => (s === '' ? [] : s.split(':'))
  const head = groups(halves[0])
  const tail = halves.length === 2 ? groups(halves[1]) : []
  // "::" stands for at least one zero group.
  if (halves.length === 1 ? head.length !== words : head.length + tail.length >= words) return undefined
  const placed = [...head.map((g, i) => [g, i] as const), ...tail.map((g, i) => [g, words - tail.length + i] as const)]
  for (const [group, word] of placed) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(group)) return undefined
    const value = parseInt(group, 16)
    bytes[2 * word] = value >> 8
    bytes[2 * word + 1] = value & 0xff
  }
  return bytes
}

/**
 * 16 bytes as RFC 5952 text, which is also Node's form: lower case, the longest run of two or more zero
 * groups (the first on a tie) as "::", and IPv4-mapped addresses as "::ffff:a.b.c.d" like Node's remoteAddress.
 */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.subarray(12, 16).join('.')}`
  }
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1])
  let runStart = -1
  let runLength = 1
  for (let i = 0; i < 8; ) {
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > runLength) [runStart, runLength] = [i, j - i]
    i = j === i ? i + 1 : j
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':')
  if (runStart === -1) return hex(words)
  return `${hex(words.slice(0, runStart))}::${hex(words.slice(runStart + runLength))}`
}
