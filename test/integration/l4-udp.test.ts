/**
 * The UDP listener: each client address sticks to one target while it keeps sending, replies go back to
 * the client that asked, idle sessions end, and the session table stays within maxSessions.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Balancer } from '../../src/balancer.ts'
import { DatagramListener } from '../../src/listeners/datagram.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { startBalancer } from '../helpers/balancer.ts'
import { until } from '../helpers/process.ts'
import { UdpClient, UdpTarget } from '../helpers/stream.ts'

function udpConfig(targets: string[], listener: Record<string, unknown> = {}): ConfigInput {
  return {
    listeners: [{ name: 'dns', protocol: 'udp', listen: '127.0.0.1:0', forward: 'resolvers', ...listener }],
    targetGroups: { resolvers: { targets } },
  } as ConfigInput
}

async function startClients(n: number): Promise<UdpClient[]> {
  return Promise.all(Array.from({ length: n }, () => new UdpClient().start()))
}

test('UDP: several clients get their own replies; each client sticks to one target; clients spread over targets', async (t) => {
  const targets = await Promise.all(['a', 'b'].map((n) => new UdpTarget(n).start()))
  t.after(() => Promise.all(targets.map((x) => x.close())))
  const lb = await startBalancer(t, udpConfig(targets.map((x) => x.address)))
  const port = lb.port('dns')
  const clients = await startClients(6)
  t.after(() => Promise.all(clients.map((c) => c.close())))
  clients.forEach((c, i) => { for (let k = 0; k < 5; k++) c.send(port, `q${i}-${k}`) })
  for (const [i, c] of clients.entries()) {
    const replies = await c.waitFor(5)
    assert.equal(replies.length, 5, `client ${i} got every reply`)
    const names = new Set(replies.map((r) => r.split(':')[0]))
    assert.equal(names.size, 1, `client ${i} stuck to one target: ${replies.join(',')}`)
    assert.deepEqual(replies.map((r) => r.split(':')[1]).sort(), [0, 1, 2, 3, 4].map((k) => `q${i}-${k}`))
  }
  // Round robin over sessions: three clients each.
  assert.deepEqual(targets.map((x) => x.sources.size), [3, 3])
})

test('UDP: a session ends after idleTimeout, and the client\'s next datagram opens a new one', async (t) => {
  const [target] = await Promise.all([new UdpTarget('a').start()])
  t.after(() => target.close())
  const lb = await startBalancer(t, udpConfig([target.address], { idleTimeout: '200ms' }))
  const [client] = await startClients(1)
  t.after(() => client.close())
  client.send(lb.port('dns'), 'one')
  await client.waitFor(1)
  const listener = listenerOf(lb.balancer, 'dns')
  assert.equal(listener.sessions, 1)
  await until(() => listener.sessions === 0, 3_000, 'the idle session to end')
  client.send(lb.port('dns'), 'two')
  assert.deepEqual(await client.waitFor(2), ['a:one', 'a:two'])
  assert.equal(target.sources.size, 2, 'a new session, so a new socket towards the target')
})

test('UDP: the session table is bounded; past maxSessions the longest idle session makes room', async (t) => {
  const [target] = await Promise.all([new UdpTarget('a').start()])
  t.after(() => target.close())
  const lb = await startBalancer(t, udpConfig([target.address], { maxSessions: 3 }))
  const clients = await startClients(5)
  t.after(() => Promise.all(clients.map((c) => c.close())))
  for (const c of clients) {
    c.send(lb.port('dns'), 'hi')
    await c.waitFor(1)
  }
  assert.equal(listenerOf(lb.balancer, 'dns').sessions, 3)
  for (const c of clients) assert.deepEqual(c.replies, ['a:hi'])
})

/** The running UDP listener (to read its session count). */
function listenerOf(balancer: Balancer, name: string): DatagramListener {
  const l = balancer.listener(name)
  if (!(l instanceof DatagramListener)) throw new Error(`no UDP listener ${name}`)
  return l
}
