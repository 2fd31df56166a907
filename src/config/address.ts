/**
 * Listen and target addresses: `8080`, `host:port`, `[v6]:port`, `*:port`. Errors are whole sentences that
 * end in the fix, ready to follow a key path: `"10.0.0.7" has no port; write "10.0.0.7:8080"`.
 */
import { isIPv6 } from 'node:net'

export type ListenAddress = {
  /** undefined = all addresses (a bare port or `*:port`). IPv6 without brackets. */
  host: string | undefined
  port: number
}
export type TargetAddress = { host: string; port: number }
export type AddressError = { error: string }

/** The port used in suggested fixes when the file gives none. */
const EXAMPLE_PORT = 8080

const HOSTNAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/

/** Where a listener accepts connections. Port 0 (any free port, for tests) is accepted here. */
export function parseListenAddress(value: number | string): ListenAddress | AddressError {
  if (typeof value === 'number') return checkPort(String(value), String(value), true)
  const text = value.trim()
  if (/^\d+$/.test(text)) return checkPort(text, value, true)
  const split = splitHostPort(text, value, true)
  if ('error' in split) return split
  const host = split.host === '*' || split.host === '' ? undefined : split.host
  return { host, port: split.port }
}

/** A target's address: a host and a port, both required. */
export function parseTargetAddress(value: string): TargetAddress | AddressError {
  const text = value.trim()
  if (/^\d+$/.test(text)) return { error: `${q(value)} has no host; write ${q(`127.0.0.1:${text}`)}` }
  const split = splitHostPort(text, value)
  if ('error' in split) return split
  if (split.host === '' || split.host === '*') {
    return { error: `${q(value)} needs a host; write ${q(`127.0.0.1:${split.port}`)}` }
  }
  return split
}

/** True when the host means every local address, so the port is taken on all of them. */
export function isAllAddresses(host: string | undefined): boolean {
  return host === undefined || host === '0.0.0.0' || host === '::'
}

/** `host:port` for display and comparison; IPv6 in brackets, host lower-cased. */
export function formatAddress(host: string | undefined, port: number): string {
  if (host === undefined) return `*:${port}`
  return host.includes(':') ? `[${host.toLowerCase()}]:${port}` : `${host.toLowerCase()}:${port}`
}

function splitHostPort(text: string, original: string, allowZero = false): TargetAddress | AddressError {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text)
  if (scheme !== null) {
    const bare = text.slice(scheme[0].length).split('/')[0]
    return { error: `${q(original)} is a URL; write only host:port, e.g. ${q(bare.includes(':') ? bare : `${bare}:${EXAMPLE_PORT}`)}` }
  }
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text)
  if (bracketed !== null) {
    const [, host, port] = bracketed
    if (!isIPv6(host)) return { error: `${q(`[${host}]`)} is not an IPv6 address` }
    if (port === undefined) return { error: `${q(original)} has no port; write ${q(`[${host}]:${EXAMPLE_PORT}`)}` }
    return withPort(host, port, original, allowZero)
  }
  const colon = text.lastIndexOf(':')
  if (isIPv6(text)) {
    // "::1:80" is itself a valid IPv6 address, but far more likely [::1] with port 80.
    const [host, port] = [text.slice(0, colon), text.slice(colon + 1)]
    if (isIPv6(host) && /^\d{1,5}$/.test(port)) return { error: `IPv6 addresses need brackets; write ${q(`[${host}]:${port}`)}` }
    return { error: `${q(original)} has no port; write ${q(`[${text}]:${EXAMPLE_PORT}`)}` }
  }
  if (colon < 0) {
    if (!HOSTNAME.test(text)) return { error: `${q(original)} is not a host:port address` }
    return { error: `${q(original)} has no port; write ${q(`${text}:${EXAMPLE_PORT}`)}` }
  }
  const host = text.slice(0, colon)
  const port = text.slice(colon + 1)
  if (isIPv6(host)) return { error: `IPv6 addresses need brackets; write ${q(`[${host}]:${port}`)}` }
  if (host !== '' && host !== '*' && (host.length > 253 || !HOSTNAME.test(host))) {
    return { error: `${q(host)} in ${q(original)} is not a host name or IP address` }
  }
  return withPort(host, port, original, allowZero)
}

function withPort(host: string, portText: string, original: string, allowZero = false): TargetAddress | AddressError {
  const port = checkPort(portText, original, allowZero)
  return 'error' in port ? port : { host, port: port.port }
}

function checkPort(text: string, original: string, allowZero = false): { host: undefined; port: number } | AddressError {
  if (!/^\d+$/.test(text)) return { error: `the port in ${q(original)} is not a number; write a port from 1 to 65535` }
  const port = Number(text)
  // Port 0 asks the system for any free port: useful for tests, never for a target.
  if (port === 0 && allowZero) return { host: undefined, port }
  if (port < 1 || port > 65535) return { error: `port ${text} is out of range; use a port from 1 to 65535` }
  return { host: undefined, port }
}

function q(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)
}
