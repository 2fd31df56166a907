/**
 * Who the client is behind trusted proxies. From a trusted peer, X-Forwarded-For is read right to left
 * and the first address that is not itself a trusted proxy is the client (nginx real_ip_recursive on);
 * a peer that is not trusted is the client itself, whatever it wrote.
 */
import { isIP } from 'node:net'
import { AccessList } from '../targets/access.ts'

export class TrustPolicy {
  readonly #trusted: AccessList

  constructor(cidrs: readonly string[]) {
    this.#trusted = new AccessList([...cidrs.map((c) => ({ allow: c })), { deny: 'all' }])
  }

  trusts(address: string): boolean {
    return this.#trusted.allows(address)
  }

  /** The client of a request from `peer` that carried this X-Forwarded-For (Node joins repeated fields with ", "). */
  client(peer: string, forwardedFor: string | undefined): string {
    if (forwardedFor === undefined || !this.trusts(peer)) return peer
    let end = forwardedFor.length
    let last = peer
    while (end > 0) {
      const comma = forwardedFor.lastIndexOf(',', end - 1)
      const entry = forwardedFor.slice(comma + 1, end).trim()
      end = comma === -1 ? 0 : comma
      if (entry === '') continue
      // A malformed entry ends the walk: what is left of it cannot be trusted to be an address.
      const address = stripPort(entry)
      if (address === undefined) return last
      if (!this.trusts(address)) return address
      last = address
    }
    // Every address was a trusted proxy: the leftmost one is as close to the client as it gets.
    return last
  }
}

/** "1.2.3.4", "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]:443" -> the address; undefined when none. */
function stripPort(entry: string): string | undefined {
  if (isIP(entry) !== 0) return entry
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']')
    const inner = close === -1 ? '' : entry.slice(1, close)
    return isIP(inner) === 6 ? inner : undefined
  }
  const colon = entry.lastIndexOf(':')
  const host = colon === -1 ? '' : entry.slice(0, colon)
  return isIP(host) === 4 ? host : undefined
}
