/**
 * Certificate checks as nginx makes them at start: every ssl_certificate in effect for a server (its own,
 * else http's) must load, with a key for each, and `listen … ssl` needs one. The translator does not
 * map TLS onto Fulcrum's https listeners yet (translate.ts reports `listen … ssl`), but a broken certificate is a broken nginx file.
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
      report.nginx(ssl, 'no "ssl_certificate" is defined for the "listen … ssl" directive; add ssl_certificate and ssl_certificate_key')
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
