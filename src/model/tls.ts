/**
 * A listener's certificates as secure contexts chosen by SNI: exact names first, then wildcards
 * ("*.example.com" covers one label), then the first certificate. Names come from each certificate's
 * subjectAltName. Built with the model, so a reload re-reads the files and swaps the whole table.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSecureContext, type SecureContext, type SecureVersion } from 'node:tls'
import type { HttpListenerConfig } from '../config/schema.ts'

export class CertificateTable {
  readonly default: SecureContext
  /** What the default context is made of, for `server.setSecureContext` on reload. */
  readonly defaultOptions: { cert: Buffer; key: Buffer; minVersion: SecureVersion }
  readonly #exact = new Map<string, SecureContext>()
  /** Keyed by the part after "*.", e.g. "example.com". */
  readonly #wildcard = new Map<string, SecureContext>()

  constructor(tls: NonNullable<HttpListenerConfig['tls']>) {
    let first: CertificateTable['defaultOptions'] | undefined
    let firstContext: SecureContext | undefined
    for (const c of tls.certificates) {
      const options = { cert: readFileSync(c.cert), key: readFileSync(c.key), minVersion: tls.minVersion }
      const context = createSecureContext(options)
      first ??= options
      firstContext ??= context
      for (const name of sanNames(new X509Certificate(options.cert))) {
        // The first certificate that names a host wins, as the list is written in order of preference.
        if (name.startsWith('*.')) { if (!this.#wildcard.has(name.slice(2))) this.#wildcard.set(name.slice(2), context) }
        else if (!this.#exact.has(name)) this.#exact.set(name, context)
      }
    }
    this.defaultOptions = first as CertificateTable['defaultOptions']
    this.default = firstContext as SecureContext
  }

  select(servername: string): SecureContext {
    const name = servername.toLowerCase().replace(/\.$/, '')
    const exact = this.#exact.get(name)
    if (exact !== undefined) return exact
    const dot = name.indexOf('.')
    return (dot > 0 ? this.#wildcard.get(name.slice(dot + 1)) : undefined) ?? this.default
  }
}

/** DNS names of a certificate's subjectAltName ("DNS:a.example, DNS:*.b.example, IP Address:…"), lower case. */
export function sanNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(',').map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase())
}

/** The Strict-Transport-Security value, or undefined. */
export function hstsValue(l: HttpListenerConfig): string | undefined {
  if (l.hsts === undefined || l.protocol !== 'https') return undefined
  return `max-age=${Math.floor(l.hsts.maxAge / 1000)}${l.hsts.includeSubDomains ? '; includeSubDomains' : ''}${l.hsts.preload ? '; preload' : ''}`
}
