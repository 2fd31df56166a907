/**
 * L4 listeners with `workers: 2`: the workers share the TCP and the UDP port (SO_REUSEPORT), port 0
 * included, and every connection and datagram is served.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ConfigInput } from '../../src/config/schema.ts'
import { WorkerDataPlane } from '../../src/control/worker-data-plane.ts'
import { silentLogger } from '../../src/log.ts'
import { parse } from '../helpers/balancer.ts'
import { exchange, startTcpTargets, UdpClient, UdpTarget } from '../helpers/stream.ts'

test('two workers serve TCP connections and UDP clients on shared ports', async (t) => {
  const tcp = await startTcpTargets(['a', 'b'])
  const udp = await new UdpTarget('u').start()
  t.after(async () => { await Promise.all(tcp.map((x) => x.kill())); await udp.close() })
  const plane = new WorkerDataPlane({ workers: 2, log: silentLogger() })
  await plane.start(parse({
    listeners: [
      { name: 'edge', protocol: 'tcp', listen: '127.0.0.1:0', forward: 'tcp-app' },
      { name: 'dns', protocol: 'udp', listen: '127.0.0.1:0', forward: 'udp-app' },
    ],
    targetGroups: { 'tcp-app': { targets: tcp.map((x) => x.address) }, 'udp-app': { targets: [udp.address] } },
  } as ConfigInput), [])
  t.after(() => plane.stop(1_000))
  const ports = await plane.ports()
  for (let i = 0; i < 20; i++) {
    const r = await exchange(ports.edge, `m${i}`, { closeAfter: `a:m${i}`.length })
    assert.match(r.text, new RegExp(`^[ab]:m${i}$`))
  }
  assert.equal(tcp[0].accepted + tcp[1].accepted, 20)
  const clients = await Promise.all(Array.from({ length: 8 }, () => new UdpClient().start()))
  t.after(() => Promise.all(clients.map((c) => c.close())))
  clients.forEach((c, i) => { c.send(ports.dns, `q${i}`); c.send(ports.dns, `r${i}`) })
  for (const [i, c] of clients.entries()) assert.deepEqual((await c.waitFor(2)).sort(), [`u:q${i}`, `u:r${i}`])
})

test('rate limits hold across two workers: what one lets through counts in the other', async (t) => {
  const { Backend } = await import('../helpers/backend.ts')
  const backend = await new Backend().start()
  t.after(() => backend.close())
  const plane = new WorkerDataPlane({ workers: 2, log: silentLogger() })
  await plane.start(parse({
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }], rateLimit: { rate: '2r/s', burst: 4, nodelay: true } }],
    targetGroups: { app: { targets: [backend.address] } },
  } as ConfigInput), [])
  t.after(() => plane.stop(1_000))
  const { web } = await plane.ports()
  const { request } = await import('node:http')
  const once = (): Promise<number> => new Promise((resolve, reject) => {
    // A new connection each time, so the kernel spreads them over both workers.
    const req = request({ host: '127.0.0.1', port: web, agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) })
    req.on('error', reject)
    req.end()
  })
  const started = Date.now()
  let ok = 0
  for (let i = 0; i < 30; i++) {
    if ((await once()) === 200) ok++
    // Spread over ~1.5 s, so the workers exchange what they let through several times.
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const seconds = (Date.now() - started) / 1000
  // One bucket for the whole balancer: 1 + burst 4 + 2 per second. Each worker alone would allow about
  // twice that; the slack is what can pass within one exchange interval (50 ms) per worker.
  const allowed = 1 + 4 + 2 * seconds
  assert.ok(ok <= allowed + 2, `${ok} of 30 passed in ${seconds.toFixed(2)} s; the shared limit allows ${allowed.toFixed(1)}`)
  assert.ok(ok >= 5, `${ok} passed: the burst at least`)
  assert.equal(backend.count, ok)
})
