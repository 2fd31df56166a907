/**
 * Test certificates made with openssl in a temp folder: a CA, and leaves signed by it for the names asked.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export class TestCerts {
  readonly dir = mkdtempSync(join(tmpdir(), 'fulcrum-certs-'))
  readonly ca = join(this.dir, 'ca.pem')
  readonly caKey = join(this.dir, 'ca.key')
  #serial = 1

  constructor(caName = 'Fulcrum Test CA') {
    this.#openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-subj', `/CN=${caName}`, '-keyout', this.caKey, '-out', this.ca)
  }

  /** A leaf certificate for these DNS names (SAN); `file` names its .pem and .key. */
  leaf(file: string, names: string[], cn = names[0]): { cert: string; key: string } {
    const cert = join(this.dir, `${file}.pem`)
    const key = join(this.dir, `${file}.key`)
    const csr = join(this.dir, `${file}.csr`)
    const ext = join(this.dir, `${file}.ext`)
    writeFileSync(ext, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`)
    this.#openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', key, '-out', csr)
    this.#openssl('x509', '-req', '-in', csr, '-CA', this.ca, '-CAkey', this.caKey, '-set_serial', String(this.#serial++),
      '-days', '2', '-extfile', ext, '-out', cert)
    return { cert, key }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }

  #openssl(...args: string[]): void {
    execFileSync('openssl', args, { stdio: 'pipe' })
  }
}
