/**
 * listen … ssl -> an https listener: certificates inherited from http as nginx does, one per server on the
 * port (SNI picks by their names), paths relative to the nginx file's folder, ssl_protocols -> minVersion.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { TestCerts } from '../../../test/helpers/certs.ts'
import { parseNginxConfigText } from './load.ts'
import { httpListeners } from '../schema.ts'

test('servers on one ssl port bring their certificates to one https listener', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  certs.leaf('a', ['a.example'])
  certs.leaf('b', ['b.example'])
  const file = join(certs.dir, 'nginx.conf')
  const text = `events {}
http {
    ssl_certificate a.pem;
    ssl_certificate_key a.key;
    ssl_protocols TLSv1.1 TLSv1.2 TLSv1.3;
    server {
        listen 8443 ssl http2;
        server_name a.example;
        location / { return 200 "a\\n"; }
    }
    server {
        listen 8443 ssl;
        server_name b.example;
        ssl_certificate ${join(certs.dir, 'b.pem')};
        ssl_certificate_key b.key;
        location / { return 200 "b\\n"; }
    }
}
`
  writeFileSync(file, text)
  const result = await parseNginxConfigText(text, file, { resolveHosts: false })
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems))
  const [listener] = result.input.listeners as Record<string, unknown>[]
  assert.equal(listener.protocol, 'https')
  assert.equal(listener.http2, true)
  assert.deepEqual(listener.tls, {
    certificates: [{ cert: 'a.pem', key: 'a.key' }, { cert: join(certs.dir, 'b.pem'), key: 'b.key' }],
    minVersion: 'TLSv1.2',
  })
  // The loaded configuration reads them from the nginx file's folder.
  assert.deepEqual(httpListeners(result.config)[0].tls?.certificates.map((c) => c.key), [join(certs.dir, 'a.key'), join(certs.dir, 'b.key')])
  assert.ok(result.warnings.some((w) => /ssl_protocols TLSv1\.1: Fulcrum's minimum is TLSv1\.2/.test(w.message)), JSON.stringify(result.warnings))
})

test('ssl_protocols TLSv1.3 alone sets minVersion TLSv1.3; http2 on turns h2 on', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  certs.leaf('a', ['a.example'])
  const file = join(certs.dir, 'nginx.conf')
  const text = `events {}
http {
    http2 on;
    server {
        listen 127.0.0.1:8443 ssl;
        ssl_certificate a.pem;
        ssl_certificate_key a.key;
        ssl_protocols TLSv1.3;
        location / { return 200 "a\\n"; }
    }
}
`
  const result = await parseNginxConfigText(text, file, { resolveHosts: false })
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems))
  const [listener] = result.input.listeners as Record<string, unknown>[]
  assert.equal(listener.http2, true)
  assert.deepEqual(listener.tls, { certificates: [{ cert: 'a.pem', key: 'a.key' }], minVersion: 'TLSv1.3' })
  assert.deepEqual(result.warnings, [])
})
