/**
 * nginx allow/deny: client address rules checked in order, the first that matches decides, and no match
 * allows. Rules are parsed once; a check parses the client's address into integers in place (a shared
 * scratch array for IPv6) and compares masked words, so it allocates nothing. IPv4-mapped IPv6 clients
 * ("::ffff:10.0.0.1") are compared as IPv4, as nginx does.
 */
import type { AccessRuleConfig } from '../config/schema.ts'

interface Rule {
  readonly allow: boolean
  /** 4 = IPv4, 6 = IPv6, 0 = all. */
  readonly family: 0 | 4 | 6
  /** IPv4: one word; IPv6: four (network address, already masked). */
  readonly addr: readonly number[]
  readonly mask: readonly number[]
}

/** An IPv4 address as an unsigned 32-bit number, or -1. Accepts only dotted quads of 0-255. */
export function parseIpv4(text: string, start = 0, end = text.length): number {
  let value = 0
  let part = -1
  let parts = 0
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 46 /* . */) {
      if (part < 0 || ++parts > 3) return -1
      value = value * 256 + part
      part = -1
    } else if (c >= 48 && c <= 57) {
      part = part < 0 ? c - 48 : part * 10 + c - 48
      if (part > 255) return -1
    } else return -1
  }
  if (part < 0 || parts !== 3) return -1
  return value * 256 + part
}

const groupScratch = new Uint32Array(8)

/**
 * Parses an IPv6 address into `out` (four unsigned 32-bit words). Returns false when it is not one. An
 * embedded IPv4 tail ("::ffff:1.2.3.4") is accepted. Zone ids ("%eth0") are ignored.
 */
export function parseIpv6(text: string, out: Uint32Array | number[]): boolean {
  let end = text.indexOf('%')
  if (end === -1) end = text.length
  const groups = groupScratch
  let count = 0
  let gap = -1
  let i = 0
  if (text.startsWith('::')) { gap = 0; i = 2 }
  while (i < end) {
    // An IPv4 tail takes the last two groups.
    const nextColon = text.indexOf(':', i)
    const segEnd = nextColon === -1 || nextColon > end ? end : nextColon
    if (segEnd === end && text.indexOf('.', i) !== -1 && text.indexOf('.', i) < end) {
      const v4 = parseIpv4(text, i, end)
      if (v4 < 0 || count > 6) return false
      groups[count++] = v4 >>> 16
      groups[count++] = v4 & 0xffff
      i = end
      break
    }
    if (segEnd === i || segEnd - i > 4 || count >= 8) return false
    let g = 0
    for (let j = i; j < segEnd; j++) {
      const c = text.charCodeAt(j) | 0x20
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1
      if (d < 0) return false
      g = g * 16 + d
    }
    groups[count++] = g
    i = segEnd
    if (i < end) {
      i++ // ":"
      if (text.charCodeAt(i) === 58) {
        if (gap !== -1) return false
        gap = count
        i++
      } else if (i === end) return false
    }
  }
  if (gap === -1 ? count !== 8 : count > 7) return false
  if (gap !== -1) {
    // Move the groups after "::" to the end, in place, and zero the gap.
    const tail = count - gap
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[count - 1 - k]
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0
  }
  for (let w = 0; w < 4; w++) out[w] = ((groups[2 * w] << 16) | groups[2 * w + 1]) >>> 0
  return true
}

/** A rule's address: "all", an address, or a CIDR. An error message when it is none of these. */
export function parseRule(allow: boolean, text: string): Rule | { error: string } {
  if (text === 'all') return { allow, family: 0, addr: [], mask: [] }
  const slash = text.indexOf('/')
  const address = slash === -1 ? text : text.slice(0, slash)
  const bitsText = slash === -1 ? undefined : text.slice(slash + 1)
  const v4 = parseIpv4(address)
  const words = [0, 0, 0, 0]
  const family = v4 >= 0 ? 4 : parseIpv6(address, words) ? 6 : 0
  if (family === 0) {
    return { error: `"${text}" is not an address, a CIDR (10.0.0.0/8, 2001:db8::/32) or all` }
  }
  const max = family === 4 ? 32 : 128
  const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN
  if (!(bits >= 0 && bits <= max)) return { error: `"${text}": the prefix length must be 0 to ${max}` }
  if (family === 4) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
    // nginx warns "low address bits are meaningless" and masks them; so do we.
    return { allow, family, addr: [(v4 & mask) >>> 0], mask: [mask] }
  }
  // "::ffff:10.0.0.0/104" names IPv4 clients, which are compared as IPv4: make it the IPv4 rule it means.
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff && bits >= 96) {
    const v4mask = bits === 96 ? 0 : (0xffffffff << (128 - bits)) >>> 0
    return { allow, family: 4, addr: [(words[3] & v4mask) >>> 0], mask: [v4mask] }
  }
  const mask = [0, 0, 0, 0].map((_, w) => {
    const b = Math.max(0, Math.min(32, bits - 32 * w))
    return b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0
  })
  return { allow, family, addr: words.map((x, w) => (x & mask[w]) >>> 0), mask }
}

const scratch = new Uint32Array(4)

export class AccessList {
  readonly #rules: readonly Rule[]

  /** Throws on a bad rule; validation reports them first. */
  constructor(rules: readonly AccessRuleConfig[]) {
    this.#rules = rules.map((r) => {
      const parsed = 'allow' in r ? parseRule(true, r.allow) : parseRule(false, r.deny)
      if ('error' in parsed) throw new Error(parsed.error)
      return parsed
    })
  }

  /** Whether a client address (as node reports it, with or without "::ffff:") may proceed. */
  allows(ip: string): boolean {
    let family = 0
    let v4 = parseIpv4(ip)
    if (v4 >= 0) family = 4
    else if (parseIpv6(ip, scratch)) {
      // IPv4-mapped: ::ffff:a.b.c.d
      if (scratch[0] === 0 && scratch[1] === 0 && scratch[2] === 0xffff) {
        family = 4
        v4 = scratch[3]
      } else family = 6
    }
    const rules = this.#rules
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]
      if (r.family === 0) return r.allow
      if (r.family !== family) continue
      if (family === 4) {
        if (((v4 & r.mask[0]) >>> 0) === r.addr[0]) return r.allow
        continue
      }
      if (((scratch[0] & r.mask[0]) >>> 0) === r.addr[0] && ((scratch[1] & r.mask[1]) >>> 0) === r.addr[1]
        && ((scratch[2] & r.mask[2]) >>> 0) === r.addr[2] && ((scratch[3] & r.mask[3]) >>> 0) === r.addr[3]) return r.allow
    }
    return true
  }
}
