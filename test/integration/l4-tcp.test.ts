/**
 * The TCP listener: connections relayed to targets by the group's algorithm, a killed target avoided by
 * new connections, half-close, idle timeout, byte counts, allow/deny.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Balancer } from '../../src/balancer.ts'
import { InProcessDataPlane } from '../../src/control/data-plane.ts'
import { silentLogger } from '../../src/log.ts'
import type { RequestObserver, SessionRecord } from '../../src/observe/observer.ts'
import { parse, startBalancer } from '../helpers/balancer.ts'
import { exchange, startTcpTargets, UdpClient, UdpTarget } from '../helpers/stream.ts'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir, until } from '../helpers/process.ts'
import type { ConfigInput } from '../../src/config/schema.ts'

function tcpConfig(targets: string[], listener: Record<string, unknown> = {}, group: Record<string, unknown> = {}): ConfigInput {
  return {
    listeners: [{ name: 'edge', protocol: 'tcp', listen: '127.0.0.1:0', forward: 'app', ...listener }],
    targetGroups: { app: { targets, ...group } },
  } as ConfigInput
}

/** An observer that keeps the sessions it is told about (and ignores the rest). */
function sessionRecorder(): RequestObserver & { sessions: SessionRecord[] } {
  const sessions: SessionRecord[] = []
  const nothing = (): void => {}
  return {
    sessions,
    sessionDone: (r) => { sessions.push(r) },
    requestStarted: nothing, requestDone: nothing, retried: nothing, passiveFailure: nothing, connectionOpened: nothing, connectionClosed: nothing,
  }
}

test('TCP: each connection goes to the next target (round robin), bytes both ways', async (t) => {
  const targets = await startTcpTargets(['a', 'b', 'c'])
  t.after(() => Promise.all(targets.map((x) => x.kill())))
  const lb = await startBalancer(t, tcpConfig(targets.map((x) => x.address)))
  const seen: string[] = []
  for (let i = 0; i < 6; i++) {
    const r = await exchange(lb.port('edge'), `hello ${i}`, { closeAfter: `x:hello ${i}`.length })
    seen.push(r.text.split(':')[0])
    assert.equal(r.text.slice(2), `hello ${i}`)
  }
  assert.deepEqual(seen.sort(), ['a', 'a', 'b', 'b', 'c', 'c'])
})

test('TCP: a killed target is skipped: its refused connects fall through, and new connections avoid it', async (t) => {
  const targets = await startTcpTargets(['a', 'b', 'c'])
  t.after(() => Promise.all(targets.map((x) => x.kill().catch(() => {}))))
  const lb = await startBalancer(t, tcpConfig(targets.map((x) => x.address), {}, { passive: { maxFails: 1, failTimeout: '30s' } }))
  await targets[1].kill()
  const acceptedBefore = targets.map((x) => x.accepted)
  const answers: string[] = []
  for (let i = 0; i < 12; i++) {
    const r = await exchange(lb.port('edge'), 'ping', { closeAfter: 'x:ping'.length })
    answers.push(r.text)
  }
  // Every connection was answered, by a or c only.
  assert.equal(answers.filter((a) => a === 'a:ping' || a === 'c:ping').length, 12, answers.join(','))
  assert.equal(targets[0].accepted - acceptedBefore[0] + targets[2].accepted - acceptedBefore[2], 12)
  // The dead target was tried once, then marked down (maxFails 1): the 11 others never tried it.
  const b = lb.balancer.model?.groups.get('app')?.targets.find((x) => x.address === targets[1].address)
  assert.ok(b !== undefined && b.state.downUntil > 0, 'the killed target is marked down')
})

test('TCP: half-close is passed on, so the target still answers after the client finished sending', async (t) => {
  const [target] = await startTcpTargets(['a'], 'onEnd')
  t.after(() => target.kill())
  const lb = await startBalancer(t, tcpConfig([target.address]))
  const body = 'x'.repeat(100_000)
  const r = await exchange(lb.port('edge'), body, { halfClose: true })
  assert.equal(r.text, 'a got 100000 bytes')
  assert.equal(r.how, 'end')
})

test('TCP: an idle connection is closed after idleTimeout; byte counts per target are reported', async (t) => {
  const [target] = await startTcpTargets(['a'])
  t.after(() => target.kill())
  const observer = sessionRecorder()
  const balancer = new Balancer({ log: silentLogger(), observer })
  await balancer.start(parse(tcpConfig([target.address], { idleTimeout: '300ms' })))
  t.after(() => balancer.stop(1_000))
  const started = Date.now()
  const r = await exchange(balancer.ports().edge, 'hello', { ms: 5_000 })
  const took = Date.now() - started
  assert.equal(r.text, 'a:hello')
  assert.equal(r.how, 'end', 'the balancer closed the idle connection')
  assert.ok(took >= 250 && took < 4_000, `closed after ${took}ms`)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(observer.sessions.length, 1)
  const { startedAt, endedAt, clientPort, ...session } = observer.sessions[0]
  assert.deepEqual(session, {
    listener: 'edge', targetGroup: 'app', target: target.address, outcome: 'idle-timeout', bytesFromClient: 5, bytesToClient: 7,
    protocol: 'TCP', clientIp: '127.0.0.1', serverPort: balancer.ports().edge, serverName: '',
  })
  assert.ok(clientPort > 0 && endedAt - startedAt >= 250, `${clientPort} ${endedAt - startedAt}`)
})

test('TCP: a denied client is closed without reaching a target', async (t) => {
  const [target] = await startTcpTargets(['a'])
  t.after(() => target.kill())
  const lb = await startBalancer(t, tcpConfig([target.address], { access: [{ allow: '127.0.0.2' }, { deny: 'all' }] }))
  const denied = await exchange(lb.port('edge'), 'hello')
  assert.equal(denied.text, '')
  assert.notEqual(denied.how, 'timeout')
  assert.equal(target.accepted, 0)
  const allowed = await exchange(lb.port('edge'), 'hello', { localAddress: '127.0.0.2', closeAfter: 7 })
  assert.equal(allowed.text, 'a:hello')
})

test('TCP: with no target reachable the client is closed (no hang)', async (t) => {
  const [target] = await startTcpTargets(['a'])
  const address = target.address
  await target.kill()
  const lb = await startBalancer(t, tcpConfig([address]))
  const r = await exchange(lb.port('edge'), 'hello', { ms: 5_000 })
  assert.equal(r.text, '')
  assert.notEqual(r.how, 'timeout')
})

test('TCP: a reload changes the targets of new connections; an open connection keeps relaying', async (t) => {
  const targets = await startTcpTargets(['a', 'b'])
  t.after(() => Promise.all(targets.map((x) => x.kill())))
  const lb = await startBalancer(t, tcpConfig([targets[0].address]))
  const port = lb.port('edge')
  const open = exchange(port, '', { ms: 600 })
  await new Promise((resolve) => setTimeout(resolve, 100))
  await lb.reload(tcpConfig([targets[1].address]))
  assert.equal(lb.port('edge'), port, 'the same socket keeps listening')
  const r = await exchange(port, 'hi', { closeAfter: 4 })
  assert.equal(r.text, 'b:hi')
  assert.equal((await open).how, 'timeout', 'the connection opened before the reload stayed open')
  assert.equal(targets[0].accepted, 1)
})

test('TCP: sessions and bytes per target show in the metrics', async (t) => {
  const [target] = await startTcpTargets(['a'], 'onEnd')
  t.after(() => target.kill())
  const plane = new InProcessDataPlane(silentLogger(), { metrics: true, configDir: '.' })
  await plane.start(parse(tcpConfig([target.address])), [])
  t.after(() => plane.stop(1_000))
  const { edge } = await plane.ports()
  for (let i = 0; i < 3; i++) assert.equal((await exchange(edge, 'x'.repeat(1000), { halfClose: true })).text, 'a got 1000 bytes')
  await new Promise((resolve) => setTimeout(resolve, 50))
  const [metrics] = await plane.metrics()
  const values = (name: string) => metrics.find((m) => m.name === name)?.values.map((v) => ({ ...v.labels, value: v.value }))
  assert.deepEqual(values('fulcrum_l4_sessions_total'), [{ listener: 'edge', target_group: 'app', target: target.address, outcome: 'closed', value: 3 }])
  assert.deepEqual(values('fulcrum_l4_bytes_total'), [
    { listener: 'edge', target_group: 'app', target: target.address, direction: 'in', value: 3000 },
    { listener: 'edge', target_group: 'app', target: target.address, direction: 'out', value: 3 * 'a got 1000 bytes'.length },
  ])
})

test('TCP and UDP access logs: one line per session, in nginx stream\'s variables', async (t) => {
  const [target] = await startTcpTargets(['a'])
  const udp = await new UdpTarget('u').start()
  t.after(async () => { await target.kill(); await udp.close() })
  const dir = tempDir(t)
  const plane = new InProcessDataPlane(silentLogger(), { metrics: false, configDir: dir.dir })
  await plane.start(parse({
    listeners: [
      { name: 'edge', protocol: 'tcp', listen: '127.0.0.1:0', forward: 'app', accessLog: { path: 'tcp.log' } },
      { name: 'dns', protocol: 'udp', listen: '127.0.0.1:0', forward: 'dns', idleTimeout: '150ms',
        accessLog: { path: 'udp.log', format: '$protocol $status $bytes_received $bytes_sent $upstream_addr $listener' } },
    ],
    targetGroups: { app: { targets: [target.address] }, dns: { targets: [udp.address] } },
  } as ConfigInput), [])
  const { edge, dns } = await plane.ports()
  assert.equal((await exchange(edge, 'hello', { halfClose: true })).text, 'a:hello')
  const client = await new UdpClient().start()
  t.after(() => client.close())
  client.send(dns, 'q1')
  client.send(dns, 'q22')
  await client.waitFor(2)
  await until(() => existsSync(join(dir.dir, 'udp.log')) && readFileSync(join(dir.dir, 'udp.log'), 'utf8') !== '', 3_000, 'the UDP session to end and be logged')
  await plane.stop(1_000)
  const tcp = readFileSync(join(dir.dir, 'tcp.log'), 'utf8')
  assert.match(tcp, new RegExp(`^127\\.0\\.0\\.1 \\[[^\\]]+\\] TCP 200 7 5 \\d+\\.\\d{3} "${target.address}"\\n$`))
  assert.equal(readFileSync(join(dir.dir, 'udp.log'), 'utf8'), `UDP 200 5 9 ${udp.address} dns\n`)
})
