/**
 * stream {} -> L4 listeners: tcp, udp and tls-passthrough (a map on $ssl_preread_server_name), groups from
 * stream upstreams with nginx's stream defaults, and what nginx or Fulcrum would refuse, at its line.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNginxConfigText } from './load.ts'
import type { NginxLoad } from './load.ts'

type Out = Record<string, unknown>

/** The stream block's body starts on line 3; http (if any) comes after it. */
function load(stream: string, http = ''): Promise<NginxLoad> {
  return parseNginxConfigText(`events {}\nstream {\n${stream}\n}\n${http}`, '/tmp/stream.conf', { resolveHosts: false })
}

async function ok(stream: string, http = ''): Promise<{ listeners: Out[]; groups: Record<string, Out>; warnings: [number | undefined, string][] }> {
  const result = await load(stream, http)
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems))
  const input = result.input as { listeners: Out[]; targetGroups: Record<string, Out> }
  return { listeners: input.listeners, groups: input.targetGroups, warnings: result.warnings.map((w) => [w.line, w.message]) }
}

async function problems(stream: string, http = ''): Promise<[number | undefined, string][]> {
  const result = await load(stream, http)
  assert.equal(result.ok, false, 'expected problems')
  return result.ok ? [] : result.problems.map((p) => [p.line, p.message])
}

test('tcp and udp listeners from listen lines, with nginx\'s stream defaults written out', async () => {
  const { listeners, groups, warnings } = await ok(`
  upstream db { least_conn; server 10.0.0.1:5432 weight=2 max_fails=3 fail_timeout=30s; server 10.0.0.2:5432 max_fails=3 fail_timeout=30s backup; }
  upstream dns { hash $remote_addr consistent; server 10.0.0.3:53; server 10.0.0.4:53 max_conns=100; }
  server { listen 5432; listen [::]:5432; proxy_pass db; proxy_timeout 1h; allow 10.0.0.0/8; deny all; }
  server { listen 127.0.0.1:53 udp reuseport; listen 127.0.0.1:53; proxy_pass dns; proxy_next_upstream off; tcp_nodelay on; proxy_buffer_size 16k; }`)
  assert.deepEqual(listeners, [
    { name: '*:5432/tcp', protocol: 'tcp', listen: 5432, forward: 'db', idleTimeout: '1h', access: [{ allow: '10.0.0.0/8' }, { deny: 'all' }] },
    { name: '127.0.0.1:53/udp', protocol: 'udp', listen: '127.0.0.1:53', forward: 'dns', idleTimeout: '10m' },
    { name: '127.0.0.1:53/tcp', protocol: 'tcp', listen: '127.0.0.1:53', forward: 'dns', idleTimeout: '10m' },
  ])
  assert.deepEqual(groups.db, {
    algorithm: 'least-conn',
    targets: [{ address: '10.0.0.1:5432', weight: 2 }, { address: '10.0.0.2:5432', backup: true }],
    passive: { maxFails: 3, failTimeout: '30s' },
    // proxy_next_upstream on and tries 0 (nginx's defaults): every server once.
    retries: { tries: 2, on: ['error', 'timeout'], nonIdempotent: false, timeout: 0 },
    timeouts: { connect: '60s', responseHeader: '60s', idle: '60s', keepAlive: '60s' },
  })
  assert.equal(groups.dns.algorithm, 'hash')
  assert.equal(groups.dns.hashKey, 'client-ip')
  assert.deepEqual(groups.dns.targets, ['10.0.0.3:53', { address: '10.0.0.4:53', maxConns: 100 }])
  assert.deepEqual(groups.dns.retries, { tries: 1, on: [], nonIdempotent: false, timeout: 0 })
  assert.deepEqual(warnings, [[undefined, 'accepted, but change nothing in Fulcrum: listen reuseport (line 7), tcp_nodelay (line 7), proxy_buffer_size (line 7)']])
})

test('stream-level settings are inherited; a server\'s own win; proxy_pass HOST:PORT makes a group', async () => {
  const { listeners, groups } = await ok(`
  proxy_connect_timeout 5s;
  proxy_timeout 30s;
  proxy_protocol on;
  deny 192.0.2.1;
  upstream app { random two least_conn; server 10.0.0.1:9000; server 10.0.0.2:9000; server 10.0.0.3:9000; }
  server { listen 9000 proxy_protocol; proxy_pass app; proxy_next_upstream_tries 2; proxy_protocol_timeout 5s; }
  server { listen 9001; proxy_pass 10.0.0.9:9001; proxy_connect_timeout 1s; proxy_timeout 2m; allow all; }`)
  assert.deepEqual(listeners, [
    { name: '*:9000/tcp', protocol: 'tcp', listen: 9000, forward: 'app', idleTimeout: '30s', prereadTimeout: '5s', acceptProxyProtocol: true, proxyProtocol: 'v1', access: [{ deny: '192.0.2.1' }] },
    { name: '*:9001/tcp', protocol: 'tcp', listen: 9001, forward: '10.0.0.9-9001', idleTimeout: '2m', proxyProtocol: 'v1', access: [{ allow: 'all' }] },
  ])
  assert.equal(groups.app.algorithm, 'p2c')
  assert.deepEqual([groups.app.retries, groups.app.timeouts].map((x) => Object.values(x as Out)[0]), [2, '5s'])
  assert.deepEqual(groups['10.0.0.9-9001'].timeouts, { connect: '1s', responseHeader: '60s', idle: '60s', keepAlive: '60s' })
})

test('a stream upstream named as an http one gets its own group, and a warning says so', async () => {
  const { listeners, groups, warnings } = await ok(`
  upstream api { server 10.0.0.1:7000; }
  server { listen 7000; proxy_pass api; }`, 'http {\n  upstream api { server 10.0.0.1:80; }\n  server { listen 8080; location / { proxy_pass http://api; } }\n}\n')
  assert.equal(listeners[1].forward, 'api-stream')
  assert.deepEqual([groups.api.targets, groups['api-stream'].targets], [['10.0.0.1:80'], ['10.0.0.1:7000']])
  assert.deepEqual(warnings, [[4, 'upstream "api" is also an http upstream; nginx keeps the two apart, so this one\'s target group is named "api-stream"']])
})

test('ssl_preread with a map on $ssl_preread_server_name becomes a tls-passthrough listener with SNI routes', async () => {
  const { listeners, groups, warnings } = await ok(`
  upstream a { server 10.0.1.1:443; }
  upstream b { server 10.0.1.2:443; }
  map $ssl_preread_server_name $backend {
    hostnames;
    a.example.com     a;
    *.api.example.com a;
    .example.org      b;
    www.example.net   10.0.1.9:8443;
    default           a;
  }
  server { listen 443; ssl_preread on; proxy_pass $backend; preread_timeout 5s; }
  server { listen 8443; ssl_preread on; proxy_pass b; }`)
  assert.deepEqual(listeners[0], {
    name: '*:443/tcp', protocol: 'tls-passthrough', listen: 443,
    routes: [
      { serverNames: ['a.example.com', '*.api.example.com'], forward: 'a' },
      { serverNames: ['example.org', '*.example.org'], forward: 'b' },
      { serverNames: ['www.example.net'], forward: '10.0.1.9-8443' },
    ],
    forward: 'a', idleTimeout: '10m', prereadTimeout: '5s',
  })
  // Without a map nothing depends on the ClientHello: a plain tcp listener, which also relays non-TLS bytes as nginx does.
  assert.deepEqual(listeners[1], { name: '*:8443/tcp', protocol: 'tcp', listen: 8443, forward: 'b', idleTimeout: '10m' })
  assert.deepEqual(Object.keys(groups), ['a', 'b', '10.0.1.9-8443'])
  assert.deepEqual(warnings, [])
})

test('map entries Fulcrum cannot route by are reported at their line; literal wildcards and ssl_preread off warn', async () => {
  assert.deepEqual(await problems(`
  upstream a { server 10.0.1.1:443; }
  map $ssl_preread_server_name $backend {
    hostnames;
    ~^www\\d+\\.example\\.com$ a;
    mail.* a;
    "" a;
  }
  map $remote_addr $by_client { default a; }
  server { listen 443; ssl_preread on; proxy_pass $backend; }
  server { listen 444; proxy_pass $by_client; }
  server { listen 445; proxy_pass $remote_addr:443; }`), [
    [7, 'map entry "~^www\\d+\\.example\\.com$" is a regular expression; Fulcrum chooses by exact SNI names and leading wildcards (*.example.com) only, so list the names'],
    [8, 'map entry "mail.*": trailing wildcards are not supported for SNI names; list the names, or use a leading wildcard (*.example.com)'],
    [9, 'map entry "": Fulcrum sends connections without an SNI name to the default; give "" the default\'s value, or remove it'],
    [13, 'proxy_pass $by_client: variables are supported only from a map on $ssl_preread_server_name (TLS passthrough by SNI name). The map on line 11 chooses by $remote_addr. Name an upstream or HOST:PORT'],
    [14, 'proxy_pass $remote_addr:443: variables are supported only from a map on $ssl_preread_server_name (TLS passthrough by SNI name). Name an upstream or HOST:PORT'],
  ])
  const { listeners, warnings } = await ok(`
  upstream a { server 10.0.1.1:443; }
  map $ssl_preread_server_name $backend { *.example.com a; default a; }
  server { listen 443; proxy_pass $backend; }`)
  assert.deepEqual(listeners, [{ name: '*:443/tcp', protocol: 'tcp', listen: 443, forward: 'a', idleTimeout: '10m' }])
  assert.deepEqual(warnings, [
    [5, 'map entry "*.example.com" is compared literally (the map has no "hostnames;"), so it matches no SNI name and is left out; add hostnames; to the map to make it a wildcard'],
    [6, 'ssl_preread is off, so $ssl_preread_server_name is empty and every connection takes the map\'s default; add ssl_preread on; to choose by SNI name'],
  ])
})

test('what Fulcrum cannot do in stream is reported at its line, with the reason', async () => {
  assert.deepEqual(await problems(`
  upstream h { hash $remote_addr$remote_port; server 10.0.0.1:80; }
  server { listen 5000 ssl; proxy_pass h; ssl_certificate a.pem; ssl_certificate_key a.key; }
  server { listen 5001 udp; proxy_pass h; proxy_responses 1; proxy_protocol on; }
  server { listen 5002; proxy_pass h; proxy_ssl on; proxy_download_rate 1m; proxy_upload_rate 0; }
  server { listen 5003; return "hello"; }
  server { listen 5004; server_name a.example.com; proxy_pass h; }
  server { listen 5005; proxy_pass h; proxy_bind 10.0.0.2; }`), [
    [4, 'hash $remote_addr$remote_port: an L4 listener knows only the client\'s address; hash $remote_addr (consistent) instead'],
    [5, 'listen 5000 ssl: TLS termination in stream is not supported (Fulcrum terminates TLS on https listeners, in http); pass the TLS through instead (remove ssl, add ssl_preread on) or serve it from an http server with listen … ssl'],
    [6, 'proxy_responses is not supported: a UDP client keeps its session (and target) until idleTimeout passes without a datagram; remove it, and shorten proxy_timeout if sessions should end sooner'],
    [6, 'listen 5001 udp with proxy_protocol on: Fulcrum sends no PROXY header to UDP targets; turn proxy_protocol off for this server'],
    [7, 'proxy_ssl on is not supported: L4 listeners relay bytes and speak no TLS to targets; let the targets speak TLS themselves (tls-passthrough), or use an http server with proxy_pass https://'],
    [7, 'proxy_download_rate is not supported: bytes are relayed as fast as both sides take them; remove it (0 = no limit)'],
    [8, '"return" in stream is not supported: Fulcrum\'s L4 listeners relay connections to target groups; use proxy_pass'],
    [9, 'server_name in stream is not supported; route by SNI with map $ssl_preread_server_name $name { NAME UPSTREAM; … } and ssl_preread on; proxy_pass $name;'],
    [10, '"proxy_bind" is not supported: the system picks the source address'],
  ])
})

test('what nginx itself would refuse in stream gets nginx\'s error, at its line', async () => {
  assert.deepEqual(await problems(`
  proxy_pass a;
  upstream a { ip_hash; server 10.0.0.1; }
  server { listen 5000 udp proxy_protocol; proxy_pass a; proxy_timeout 1s 2s; ssl_preread maybe; }
  server { listen 5001; proxy_pass nowhere; proxy_timeout soon; }
  server { listen 5001; proxy_pass a:80; }
  server { proxy_pass 10.0.0.1:1; }
  server { listen 5002; }`), [
    [4, '"proxy_pass" is not allowed in "stream"; it belongs in "location" or "server" in "stream"'],
    [5, '"ip_hash" is not allowed in "upstream" in "stream"; it belongs in "upstream"'],
    [5, 'no port in upstream "10.0.0.1"; write HOST:PORT such as 10.0.0.1:5432'],
    [6, '"proxy_timeout" takes 1 argument, found 2; write proxy_timeout TIME'],
    [6, '"ssl_preread" must be on or off, found "maybe"'],
    [6, '"proxy_protocol" parameter is incompatible with "udp"'],
    [7, 'invalid value "soon" in "proxy_timeout"; write a time such as 30s, 500ms or 1m'],
    [7, 'no port in upstream "nowhere"; define upstream nowhere { server HOST:PORT; } in stream, or write HOST:PORT'],
    [8, 'duplicate "*:5001/tcp" address and port pair (first on line 7)'],
    [8, 'upstream "a" may not have port 80; write a'],
    [9, 'no "listen" is defined for server in /tmp/stream.conf:9; add listen PORT;'],
    [10, 'no handler for server in /tmp/stream.conf:10; add proxy_pass UPSTREAM; or proxy_pass HOST:PORT;'],
  ])
})

test('an http upstream is not seen from stream, as in nginx; map stays unsupported in http', async () => {
  assert.deepEqual(await problems('  server { listen 5000; proxy_pass web; }', 'http {\n  upstream web { server 10.0.0.1:80; }\n  server { listen 8080; location / { proxy_pass http://web; } }\n}\n'), [
    [3, 'no port in upstream "web" (upstream web is in http; stream has upstreams of its own); define upstream web { server HOST:PORT; } in stream, or write HOST:PORT'],
  ])
  assert.deepEqual(await problems('  server { listen 5000; proxy_pass 10.0.0.1:5000; }', 'http {\n  map $http_upgrade $c { default upgrade; }\n  server { listen 8080; location / { return 200; } }\n}\n'), [
    [6, '"map" is not supported: Fulcrum has no variables of its own'],
  ])
})

test('a file with only a stream block serves it; an empty one says there is nothing to serve', async () => {
  const { listeners } = await ok('  server { listen 5000; proxy_pass 10.0.0.1:5000; }')
  assert.equal(listeners.length, 1)
  assert.deepEqual(await problems(''), [[2, 'the stream block has no server blocks, so there is nothing to serve; add server { listen PORT; proxy_pass UPSTREAM; }']])
})

test('a problem in the generated configuration points at the nginx line behind it', async () => {
  assert.deepEqual(await problems(`
  upstream a { server 10.0.1.1:443; }
  map $ssl_preread_server_name $backend { hostnames; bad!name.example.com a; }
  server { listen 443; ssl_preread on; proxy_pass $backend; }`), [
    [5, 'bad!name.example.com: "bad!name.example.com" is not a server name; write a name such as api.example.com, or *.example.com for every name below example.com'],
  ])
})

test('access_log in stream: its log_format (stream variables), inherited by servers, off per server; a format is required', async () => {
  const { listeners } = await ok(`
  log_format basic '$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time';
  access_log /dev/stdout basic;
  server { listen 9000; proxy_pass 10.0.0.1:9000; }
  server { listen 9001; proxy_pass 10.0.0.1:9001; access_log /var/log/tcp.log basic buffer=32k; }
  server { listen 9002; proxy_pass 10.0.0.1:9002; access_log off; }`)
  const basic = '$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time'
  assert.deepEqual(listeners.map((l) => l.accessLog), [{ path: 'stdout', format: basic }, { path: '/var/log/tcp.log', format: basic }, undefined])
  assert.deepEqual(await problems(`
  server { listen 9000; proxy_pass 10.0.0.1:9000; access_log /tmp/a.log; }
  server { listen 9001; proxy_pass 10.0.0.1:9001; access_log /tmp/b.log combined; }`), [
    [4, 'access_log in stream needs a format: define one with log_format NAME \'…\'; in stream and write access_log PATH NAME;'],
    [5, 'unknown log format "combined"; define it with log_format combined \'…\'; in the stream block'],
  ])
})
