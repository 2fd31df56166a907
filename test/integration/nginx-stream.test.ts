/**
 * An nginx.conf with a stream block, loaded by the real loader and served by a Balancer: its TCP server
 * relays connections to the upstream's targets in turn, its UDP server relays datagrams and replies, and
 * ssl_preread with a map on $ssl_preread_server_name sends each ClientHello to the upstream of its name.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect as tlsConnect } from 'node:tls'
import { Balancer } from '../../src/balancer.ts'
import { loadConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/log.ts'
import { freePort, tempDir, until } from '../helpers/process.ts'
import { exchange, startTcpTargets, UdpClient, UdpTarget } from '../helpers/stream.ts'

test('the TCP and UDP servers of an nginx stream block relay to their upstreams\' targets', async (t) => {
  const tcpTargets = await startTcpTargets(['a', 'b'])
  t.after(() => Promise.all(tcpTargets.map((x) => x.kill())))
  const udpTargets = await Promise.all(['x', 'y'].map((n) => new UdpTarget(n).start()))
  t.after(() => Promise.all(udpTargets.map((x) => x.close())))
  const [tcpPort, udpPort] = [await freePort(), await freePort()]
  const { write } = tempDir(t)
  const file = write('nginx.conf', `events {}
stream {
    upstream echo {
        server ${tcpTargets[0].address};
        server ${tcpTargets[1].address};
    }
    upstream dns {
        server ${udpTargets[0].address};
        server ${udpTargets[1].address};
    }
    server {
        listen 127.0.0.1:${tcpPort};
        proxy_pass echo;
        proxy_connect_timeout 2s;
    }
    server {
        listen 127.0.0.1:${udpPort} udp;
        proxy_pass dns;
        proxy_timeout 20s;
    }
}
`)
  const loaded = await loadConfig(file)
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems))
  assert.deepEqual(loaded.config.listeners.map((l) => [l.name, l.protocol, 'idleTimeout' in l ? l.idleTimeout : undefined]),
    [[`127.0.0.1:${tcpPort}/tcp`, 'tcp', 600_000], [`127.0.0.1:${udpPort}/udp`, 'udp', 20_000]])
  const balancer = new Balancer({ log: silentLogger() })
  await balancer.start(loaded.config)
  t.after(() => balancer.stop(1_000))

  // TCP: round robin over the upstream's servers, bytes both ways.
  const answers: string[] = []
  for (let i = 0; i < 4; i++) {
    const r = await exchange(tcpPort, `hello ${i}`, { closeAfter: `a:hello ${i}`.length })
    assert.equal(r.text.slice(2), `hello ${i}`)
    answers.push(r.text[0])
  }
  assert.deepEqual(answers.sort(), ['a', 'a', 'b', 'b'])

  // UDP: each client's datagrams go to one target and the replies come back to it; two clients, two targets.
  const clients = await Promise.all([new UdpClient().start(), new UdpClient().start()])
  t.after(() => Promise.all(clients.map((c) => c.close())))
  for (const [i, c] of clients.entries()) {
    c.send(udpPort, `q${i}-1`)
    c.send(udpPort, `q${i}-2`)
  }
  const replies = await Promise.all(clients.map((c) => c.waitFor(2)))
  for (const [i, r] of replies.entries()) {
    assert.equal(r.length, 2, `client ${i} got both replies: ${r.join(',')}`)
    assert.equal(new Set(r.map((x) => x.split(':')[0])).size, 1, `client ${i} stuck to one target: ${r.join(',')}`)
    assert.deepEqual(r.map((x) => x.split(':')[1]).sort(), [`q${i}-1`, `q${i}-2`])
  }
  assert.deepEqual(udpTargets.map((x) => x.sources.size), [1, 1])
})

test('ssl_preread with a map on $ssl_preread_server_name passes each TLS connection to the upstream of its SNI name', async (t) => {
  // Plain TCP targets are enough to see where each ClientHello arrives: the TLS itself stays end to end.
  const targets = await startTcpTargets(['a', 'b', 'other'])
  t.after(() => Promise.all(targets.map((x) => x.kill())))
  const port = await freePort()
  const { write } = tempDir(t)
  const file = write('nginx.conf', `events {}
stream {
    upstream a { server ${targets[0].address}; }
    upstream b { server ${targets[1].address}; }
    map $ssl_preread_server_name $backend {
        hostnames;
        a.example.com a;
        .example.org  b;
        default       ${targets[2].address};
    }
    server {
        listen 127.0.0.1:${port};
        ssl_preread on;
        proxy_pass $backend;
    }
}
`)
  const loaded = await loadConfig(file)
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems))
  const balancer = new Balancer({ log: silentLogger() })
  await balancer.start(loaded.config)
  t.after(() => balancer.stop(1_000))
  const hello = (servername: string): void => {
    // The echo target answers no TLS, so the handshake fails; only where the ClientHello went matters.
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false })
    socket.on('error', () => socket.destroy())
    t.after(() => socket.destroy())
  }
  for (const [name, target] of [['a.example.com', 0], ['x.y.example.org', 1], ['example.org', 1], ['unknown.test', 2]] as const) {
    const before = targets.map((x) => x.accepted)
    hello(name)
    await until(() => targets[target].accepted === before[target] + 1, 3_000, `${name} to reach ${targets[target].name}`)
    assert.equal(targets[target].starts.at(-1)?.[0], 0x16, 'the target got the ClientHello itself')
    assert.deepEqual(targets.map((x, i) => x.accepted - before[i]), targets.map((_, i) => (i === target ? 1 : 0)))
  }
})
