/**
 * TLS checks: https listeners have certificates (and only they have tls, http2 and hsts), every certificate
 * file reads, parses and matches its key, and upstream CA files read. Files are read here, at validation,
 * so a bad certificate is reported with its file names instead of failing the listener at start or reload.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Finding } from './problem.ts'
import { isHttpListener, type Config } from './schema.ts'

export function checkTls(config: Config, problems: Finding[]): void {
  config.listeners.forEach((l, i) => {
    if (!isHttpListener(l)) return
    const at = ['listeners', i]
    if (l.protocol === 'https' && l.tls === undefined) {
      problems.push({ path: [...at, 'protocol'], message: 'an https listener needs tls: { certificates: [{ cert, key }] }' })
    }
    if (l.protocol === 'http') {
      for (const key of ['tls', 'hsts'] as const) {
        if (l[key] !== undefined) problems.push({ path: [...at, key], at: 'key', message: `${key} applies to https listeners only; set protocol: https or remove ${key}` })
      }
      if (l.http2) problems.push({ path: [...at, 'http2'], at: 'key', message: 'http2 is offered by ALPN on https listeners only; set protocol: https or remove http2' })
    }
    l.tls?.certificates.forEach((c, j) => {
      const problem = certificateProblem(c.cert, c.key)
      if (problem !== undefined) problems.push({ path: [...at, 'tls', 'certificates', j], message: problem })
    })
  })
  for (const [name, g] of Object.entries(config.targetGroups)) {
    if (g.tls !== undefined && g.protocol !== 'https') {
      problems.push({ path: ['targetGroups', name, 'tls'], at: 'key', message: 'tls applies to protocol: https target groups; add protocol: https or remove tls' })
    }
    if (g.tls?.ca !== undefined) {
      const problem = readProblem(g.tls.ca)
      if (problem !== undefined) problems.push({ path: ['targetGroups', name, 'tls', 'ca'], message: problem })
    }
  }
}

/** Certificate, key and CA paths made absolute against the config file's folder. */
export function resolveTlsPaths(config: Config, dir: string): Config {
  return {
    ...config,
    listeners: config.listeners.map((l) => !isHttpListener(l) || l.tls === undefined ? l : {
      ...l, tls: { ...l.tls, certificates: l.tls.certificates.map((c) => ({ cert: resolve(dir, c.cert), key: resolve(dir, c.key) })) },
    }),
    targetGroups: Object.fromEntries(Object.entries(config.targetGroups).map(([name, g]) => [name,
      g.tls?.ca === undefined ? g : { ...g, tls: { ...g.tls, ca: resolve(dir, g.tls.ca) } }])),
  }
}

function readProblem(file: string): string | undefined {
  try {
    readFileSync(file)
    return undefined
  } catch (err) {
    return `cannot read ${file}: ${(err as Error).message}`
  }
}

function certificateProblem(certFile: string, keyFile: string): string | undefined {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(readFileSync(certFile))
  } catch (err) {
    return `cannot use certificate ${certFile}: ${(err as Error).message}`
  }
  let key
  try {
    key = createPrivateKey(readFileSync(keyFile))
  } catch (err) {
    return `cannot use key ${keyFile}: ${(err as Error).message}`
  }
  if (!cert.checkPrivateKey(key)) return `the key ${keyFile} does not match the certificate ${certFile}; give the key the certificate was made for`
  if (cert.subjectAltName === undefined) return `the certificate ${certFile} has no subjectAltName, so it names no host; reissue it with DNS names`
  return undefined
}
