/**
 * Active health checks of https target groups: the check speaks TLS (the group's protocol, unless the
 * check names another) and verifies the certificate as the traffic does.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { Server } from 'node:https'
import { request } from 'undici'
import { TestCerts } from '../helpers/certs.ts'
import { startControlPlane } from '../helpers/control-plane.ts'
import { until } from '../helpers/process.ts'

async function httpsTarget(files: { cert: string; key: string }, name: string): Promise<{ server: Server; address: string }> {
  const server = createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, (req, res) => {
    req.resume()
    res.end(req.url === '/health' ? 'ok' : `from ${name}`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}` }
}

test('https groups are checked over TLS with the group\'s CA and name; a certificate the traffic would refuse is unhealthy', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  const good = await httpsTarget(certs.leaf('good', ['app.internal']), 'good')
  const wrongName = await httpsTarget(certs.leaf('other', ['other.internal']), 'wrong-name')
  t.after(() => { good.server.close(); wrongName.server.close() })
  const run = await startControlPlane(t, `admin: { enabled: false }
dataDir: ./data
listeners: [{ name: web, protocol: http, listen: "127.0.0.1:0", routes: [{ forward: app }] }]
targetGroups:
  app:
    protocol: https
    tls: { ca: ${certs.ca}, serverName: app.internal }
    targets: [${good.address}, ${wrongName.address}]
    failOpen: false
    healthCheck: { path: /health, interval: 100ms, timeout: 80ms, healthyThreshold: 1, unhealthyThreshold: 1 }
`)
  const state = (address: string) => run.cp.record('app', address)?.state
  await until(() => state(good.address) === 'healthy' && state(wrongName.address) === 'unhealthy', 5_000, 'the checks to decide')
  assert.match(run.cp.record('app', wrongName.address)?.reason ?? '', /failed in a row \(TLS: .*other\.internal/)
  const url = await run.url()
  for (let i = 0; i < 4; i++) {
    const r = await request(url)
    assert.equal(await r.body.text(), 'from good')
  }
})

test('an http check of an https group (healthCheck.protocol: http) stays plain, for a separate health port', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  const target = await httpsTarget(certs.leaf('good', ['app.internal']), 'good')
  t.after(() => target.server.close())
  const run = await startControlPlane(t, `admin: { enabled: false }
dataDir: ./data
listeners: [{ name: web, protocol: http, listen: "127.0.0.1:0", routes: [{ forward: app }] }]
targetGroups:
  app:
    protocol: https
    tls: { ca: ${certs.ca}, serverName: app.internal }
    targets: [${target.address}]
    healthCheck: { protocol: http, path: /health, interval: 100ms, timeout: 80ms, healthyThreshold: 1, unhealthyThreshold: 1 }
`)
  // Plain HTTP to a TLS port fails: the check did not speak TLS.
  await until(() => run.cp.record('app', target.address)?.state === 'unhealthy', 5_000, 'the plain check to fail')
})
