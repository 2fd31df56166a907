/**
 * The real CLI serving an nginx file with `listen … ssl`: the certificate (relative to the file's folder)
 * is presented on the port, and a client trusting the test CA gets the proxied answer over TLS.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { TestCerts } from '../helpers/certs.ts'
import { freePort, spawnFulcrum, tempDir, waitForListening } from '../helpers/process.ts'

process.env.FULCRUM_ADMIN_LISTEN = 'off'

test('start serves an nginx file with listen … ssl over TLS with its certificate', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  const leaf = certs.leaf('site', ['site.example.test'])
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const port = await freePort()
  const { dir, write } = tempDir(t)
  copyFileSync(leaf.cert, join(dir, 'site.pem'))
  copyFileSync(leaf.key, join(dir, 'site.key'))
  const file = write('nginx.conf', `events {}
http {
    server {
        listen 127.0.0.1:${port} ssl;
        server_name site.example.test;
        ssl_certificate site.pem;
        ssl_certificate_key site.key;
        location / { proxy_pass http://${backend.address}; }
    }
}
`)
  const lb = spawnFulcrum(t, ['start', '-c', file])
  await waitForListening(port, 8_000, lb)
  const dispatcher = new Agent({ connect: { ca: readFileSync(certs.ca), servername: 'site.example.test' } })
  t.after(() => dispatcher.close())
  const res = await request(`https://127.0.0.1:${port}/`, { dispatcher })
  assert.equal(res.statusCode, 200)
  assert.equal(await res.body.text(), `Response from ${backend.port}`)
})
