/**
 * Certificate checks as nginx makes them at start: every ssl_certificate in effect for a server (its own,
 * else http's) must load, with a key for each, and `listen … ssl` needs one. readServerTls then gives what
 * translate.ts puts on the https listener: the certificate pairs (paths kept relative to the main file's
 * folder, which is where Fulcrum reads relative paths from), the minimum version and `http2 on`.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import type { Report } from './problems.ts'
import type { Directive } from './syntax.ts'

const PROTOCOLS = new Set(['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'])

/** Checks the servers of one http block. Relative paths are read from the main file's folder (nginx's prefix). */
export function checkTls(http: readonly Directive[], servers: readonly Directive[], valid: (d: Directive) => boolean, report: Report, mainFile: string): void {
  const own = (list: readonly Directive[], name: string) => list.filter((d) => d.name === name && valid(d))
  const checkedFiles = new Map<string, string | undefined>()
  const load = (d: Directive, kind: 'certificate' | 'certificate key') => {
    const path = d.args[0]
    // Variables ($ssl_server_name) are resolved per connection; nothing to load at start.
    if (path.includes('$') || path.startsWith('data:') || path.startsWith('engine:')) return
    const full = isAbsolute(path) ? path : join(dirname(mainFile), path)
    const key = `${kind}\0${full}`
    if (!checkedFiles.has(key)) checkedFiles.set(key, loadError(full, kind))
    const error = checkedFiles.get(key)
    if (error !== undefined) report.nginx(d, `cannot load ${kind} "${path}": ${error}`)
  }
  for (const d of [...own(http, 'ssl_protocols'), ...servers.flatMap((s) => own(s.block ?? [], 'ssl_protocols'))]) {
    const bad = d.args.find((p) => !PROTOCOLS.has(p))
    if (bad !== undefined) report.nginx(d, `invalid value "${bad}" in "ssl_protocols"; use TLSv1.2 TLSv1.3`)
  }
  for (const server of servers) {
    const body = server.block ?? []
    const certs = own(body, 'ssl_certificate').length > 0 ? own(body, 'ssl_certificate') : own(http, 'ssl_certificate')
    const keys = own(body, 'ssl_certificate_key').length > 0 ? own(body, 'ssl_certificate_key') : own(http, 'ssl_certificate_key')
    certs.forEach((cert, i) => {
      load(cert, 'certificate')
      if (keys[i] === undefined) report.nginx(cert, `no "ssl_certificate_key" is defined for certificate "${cert.args[0]}"; add ssl_certificate_key FILE`)
      else load(keys[i], 'certificate key')
    })
    const ssl = own(body, 'listen').find((d) => d.args.slice(1).includes('ssl'))
    if (ssl !== undefined && certs.length === 0) {
      report.nginx(ssl, `no "ssl_certificate" is defined for the "listen ... ssl" directive in ${ssl.file}:${ssl.line}; add ssl_certificate and ssl_certificate_key`)
    }
  }
}

/** Why the file cannot serve as a PEM certificate or key, or undefined. */
function loadError(path: string, kind: 'certificate' | 'certificate key'): string | undefined {
  let pem: string
  try {
    pem = readFileSync(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    return e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : (e.message ?? String(err))
  }
  try {
    if (kind === 'certificate') new X509Certificate(pem)
    else createPrivateKey(pem)
    return undefined
  } catch {
    return `not a PEM ${kind === 'certificate' ? 'certificate' : 'private key'}`
  }
}

export interface ServerTls {
  certificates: { cert: string; key: string }[]
  /** The lowest of TLSv1.2 and TLSv1.3 in ssl_protocols, or undefined without ssl_protocols. */
  minVersion: 'TLSv1.2' | 'TLSv1.3' | undefined
  /** `http2 on;` in the server, else in http. */
  http2: boolean
}

/** The TLS settings in effect for one server block: its own directives, else http's (nginx's inheritance). */
export function readServerTls(http: readonly Directive[], server: Directive, valid: (d: Directive) => boolean, report: Report): ServerTls {
  const body = server.block ?? []
  const own = (list: readonly Directive[], name: string) => list.filter((d) => d.name === name && valid(d))
  const effective = (name: string) => (own(body, name).length > 0 ? own(body, name) : own(http, name))
  const ssl = own(body, 'listen').some((d) => d.args.slice(1).includes('ssl'))
  const certs = effective('ssl_certificate')
  const keys = effective('ssl_certificate_key')
  const certificates: ServerTls['certificates'] = []
  certs.forEach((cert, i) => {
    const key = keys[i]
    if (key === undefined) return
    const special = [cert, key].find((d) => d.args[0].includes('$') || d.args[0].startsWith('data:') || d.args[0].startsWith('engine:'))
    if (special !== undefined) {
      if (ssl) report.fulcrum(special, `${special.name} "${special.args[0]}": variables, data: and engine: certificates are not supported; name a PEM file`)
      return
    }
    certificates.push({ cert: cert.args[0], key: key.args[0] })
  })
  let minVersion: ServerTls['minVersion']
  const protocols = effective('ssl_protocols')[0]
  if (protocols !== undefined) {
    const args = protocols.args
    minVersion = args.includes('TLSv1.2') ? 'TLSv1.2' : args.includes('TLSv1.3') ? 'TLSv1.3' : 'TLSv1.2'
    const old = args.filter((p) => p !== 'TLSv1.2' && p !== 'TLSv1.3' && PROTOCOLS.has(p))
    if (ssl && old.length > 0) {
      report.warn(protocols, `ssl_protocols ${old.join(' ')}: Fulcrum's minimum is TLSv1.2, so clients limited to ${old.join(' or ')} cannot connect`)
    }
  }
  const flag = effective('http2')[0]
  return { certificates, minVersion, http2: flag?.args[0] === 'on' }
}
