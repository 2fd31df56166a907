/**
 * Writes PROXY protocol headers (versions 1 and 2) for the connections Fulcrum opens to targets, and builds
 * their addresses from an accepted client socket. Pure: the caller writes the bytes before any payload.
 */
import { isIPv4 } from 'node:net'
import { formatIPv6, ipv6Bytes, V2_SIGNATURE, type ProxyAddresses } from './proxy-header.ts'

/**
 * "PROXY TCP4 src dst sport dport\r\n" (TCP6 for IPv6, with the addresses in canonical form, which also keeps
 * the line within the spec's 107 bytes). Throws a TypeError for an address or port that is not valid.
 */
export function encodeProxyHeaderV1(a: ProxyAddresses): Buffer {
  const text = (address: string) => {
    const bytes = addressBytes(a.family, address)
    return a.family === 'IPv4' ? bytes.join('.') : formatIPv6(bytes)
  }
  const protocol = a.family === 'IPv4' ? 'TCP4' : 'TCP6'
  const line = `PROXY ${protocol} ${text(a.sourceAddress)} ${text(a.destinationAddress)} ${port(a.sourcePort)} ${port(a.destinationPort)}\r\n`
  return Buffer.from(line, 'latin1')
}

/**
 * Signature, v2 PROXY command, TCP over IPv4 (0x11) or IPv6 (0x21), then the address block and no TLVs.
 * Throws a TypeError for an address or port that is not valid.
 */
export function encodeProxyHeaderV2(a: ProxyAddresses): Buffer {
  const ipv4 = a.family === 'IPv4'
  const size = ipv4 ? 4 : 16
  const block = 2 * size + 4
  const out = Buffer.alloc(16 + block)
  V2_SIGNATURE.copy(out, 0)
  out[12] = 0x21
  out[13] = ipv4 ? 0x11 : 0x21
  out.writeUInt16BE(block, 14)
  out.set(addressBytes(a.family, a.sourceAddress), 16)
  out.set(addressBytes(a.family, a.destinationAddress), 16 + size)
  out.writeUInt16BE(port(a.sourcePort), 16 + 2 * size)
  out.writeUInt16BE(port(a.destinationPort), 18 + 2 * size)
  return out
}

/**
 * The addresses of an accepted connection as a balancer sends them upstream: source = the client (remote),
 * destination = the listener's own (local) address. Undefined when an address or port is missing.
 */
export function proxyAddressesOf(socket: {
  remoteAddress?: string
  remotePort?: number
  localAddress?: string
  localPort?: number
}): ProxyAddresses | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket
  if (remoteAddress === undefined || localAddress === undefined || !isPort(remotePort) || !isPort(localPort)) return undefined
  const source = ipBytes(remoteAddress)
  const destination = ipBytes(localAddress)
  if (source === undefined || destination === undefined) return undefined
  // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d: when both ends are IPv4 underneath, say so.
  const source4 = asIPv4(source)
  const destination4 = asIPv4(destination)
  if (source4 !== undefined && destination4 !== undefined) {
    return { family: 'IPv4', sourceAddress: source4, sourcePort: remotePort, destinationAddress: destination4, destinationPort: localPort }
  }
  // One real IPv6 end: the header has one family, so the IPv4 end goes as ::ffff:a.b.c.d.
  return {
    family: 'IPv6',
    sourceAddress: formatIPv6(asIPv6(source)),
    sourcePort: remotePort,
    destinationAddress: formatIPv6(asIPv6(destination)),
    destinationPort: localPort,
  }
}

/** 4 or 16 bytes; Node adds "%zone" to link-local addresses, which a PROXY header cannot carry. */
function ipBytes(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number))
  return ipv6Bytes(text.replace(/%.*$/, ''))
}

function isMappedIPv4(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
}

function asIPv4(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return bytes.join('.')
  return isMappedIPv4(bytes) ? bytes.subarray(12).join('.') : undefined
}

function asIPv6(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 16) return bytes
  const mapped = new Uint8Array(16)
  mapped[10] = mapped[11] = 0xff
  mapped.set(bytes, 12)
  return mapped
}

function addressBytes(family: 'IPv4' | 'IPv6', address: string): Uint8Array {
  const bytes = family === 'IPv4' ? (isIPv4(address) ? Uint8Array.from(address.split('.').map(Number)) : undefined) : ipv6Bytes(address)
  if (bytes === undefined) throw new TypeError(`PROXY header: ${JSON.stringify(address)} is not an ${family} address`)
  return bytes
}

function isPort(n: number | undefined): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535
}

function port(n: number): number {
  if (!isPort(n)) throw new TypeError(`PROXY header: ${n} is not a port (an integer 0-65535)`)
  return n
}
