/**
 * limit_req, limit_conn, large_client_header_buffers, client_body_timeout and the real IP (set_real_ip_from,
 * real_ip_header, real_ip_recursive, listen … proxy_protocol), through the nginx loader: the configuration
 * produced, and what nginx or Fulcrum would refuse or warn about, at its line.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNginxConfigText } from './load.ts'
import type { NginxLoad } from './load.ts'
import { httpListeners } from '../schema.ts'

type Out = Record<string, any>

/** The http block's body starts on line 3 (line 4 for the tests' texts, which start with a newline). */
function load(http: string, rest = ''): Promise<NginxLoad> {
  return parseNginxConfigText(`events {}\nhttp {\n${http}\n}\n${rest}`, '/tmp/protection.conf', { resolveHosts: false })
}

async function ok(http: string, rest = ''): Promise<{ listeners: Out[]; warnings: [number | undefined, string][]; result: Extract<NginxLoad, { ok: true }> }> {
  const result = await load(http, rest)
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems))
  return { listeners: (result.input as { listeners: Out[] }).listeners, warnings: result.warnings.map((w) => [w.line, w.message]), result }
}

async function problems(http: string, rest = ''): Promise<[number | undefined, string][]> {
  const result = await load(http, rest)
  assert.equal(result.ok, false, 'expected problems')
  return result.ok ? [] : result.problems.map((p) => [p.line, p.message])
}

/** The locations of the first virtual host of a listener. */
const locations = (listener: Out): Out[] => listener.virtualHosts[0].locations

test('limit_req -> rateLimit: zone, rate, burst, nodelay/delay, key, nginx\'s 503 unless limit_req_status, maxKeys from the zone size', async () => {
  const { listeners, result } = await ok(`
  limit_req_zone $binary_remote_addr zone=one:1m rate=10r/s;
  limit_req_zone $http_x_api_key zone=keys:64k rate=30r/m;
  limit_req_zone \${remote_addr} zone=plain:32k rate=5;
  server {
    listen 8080;
    location /a/ { limit_req zone=one burst=2 nodelay; proxy_pass http://10.0.0.1:80; }
    location /b/ { limit_req zone=one; limit_req zone=keys burst=5 delay=3; limit_req_status 429; proxy_pass http://10.0.0.1:80; }
    location /c/ { limit_req zone=plain; proxy_pass http://10.0.0.1:80; }
    location /d/ { proxy_pass http://10.0.0.1:80; }
  }`)
  const [a, b, c, d] = locations(listeners[0])
  assert.deepEqual(a.rateLimit, { zone: 'one', rate: '10r/s', burst: 2, nodelay: true, key: 'client-ip', status: 503, maxKeys: 16384 })
  assert.deepEqual(b.rateLimit, [
    { zone: 'one', rate: '10r/s', key: 'client-ip', status: 429, maxKeys: 16384 },
    // nginx's $http_x_api_key is the X-Api-Key header.
    { zone: 'keys', rate: '30r/m', burst: 5, delay: 3, key: 'header:x-api-key', status: 429, maxKeys: 1024 },
  ])
  // A rate without unit is per second; ${name} is $name.
  assert.deepEqual(c.rateLimit, { zone: 'plain', rate: '5r/s', key: 'client-ip', status: 503, maxKeys: 512 })
  assert.equal(d.rateLimit, undefined)
  assert.equal(listeners[0].rateLimit, undefined)
  // Through the schema: the same zone shares its buckets (same name, rate and size everywhere).
  const loaded = httpListeners(result.config)[0].virtualHosts![0].locations
  assert.deepEqual(loaded[0].rateLimit, { zone: 'one', rate: 10, burst: 2, nodelay: true, delay: 0, key: 'client-ip', status: 503, maxKeys: 16384 })
})

test('limit_req is inherited as nginx inherits it: whole lists from the outer level, limit_req_status on its own', async () => {
  const { listeners } = await ok(`
  limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;
  limit_req_zone $binary_remote_addr zone=two:1m rate=2r/s;
  limit_req zone=one burst=3;
  server {
    listen 8080;
    location / { proxy_pass http://10.0.0.1:80; }
    location /status/ {
      limit_req_status 429;
      proxy_pass http://10.0.0.1:80;
      location /status/deep/ { proxy_pass http://10.0.0.1:80; }
    }
    location /own/ { limit_req zone=two; proxy_pass http://10.0.0.1:80; }
  }
  server {
    listen 8080;
    server_name b.test;
    limit_req zone=two nodelay;
    limit_req_status 444;
    location / { proxy_pass http://10.0.0.1:80; }
  }`)
  const [listener] = listeners
  const one = { zone: 'one', rate: '1r/s', burst: 3, key: 'client-ip', maxKeys: 16384 }
  assert.deepEqual(listener.rateLimit, { ...one, status: 503 })
  const [root, status, own] = locations(listener)
  assert.equal(root.rateLimit, undefined, 'the listener\'s holds')
  // A level that sets only limit_req_status keeps the outer limits with its own status: written out.
  assert.deepEqual(status.rateLimit, { ...one, status: 429 })
  assert.deepEqual(status.locations[0].rateLimit, { ...one, status: 429 })
  assert.deepEqual(own.rateLimit, { zone: 'two', rate: '2r/s', key: 'client-ip', status: 503, maxKeys: 16384 })
  assert.deepEqual(listener.virtualHosts[1].rateLimit, { zone: 'two', rate: '2r/s', nodelay: true, key: 'client-ip', status: 444, maxKeys: 16384 })
  assert.equal(listener.virtualHosts[1].locations[0].rateLimit, undefined)
})

test('a return answers before limit_req in nginx: a warning at the return', async () => {
  const { warnings } = await ok(`
  limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;
  server {
    listen 8080;
    limit_req zone=one;
    location / { proxy_pass http://10.0.0.1:80; }
    location = /health {
      return 200;
    }
  }
  server { listen 8081; limit_req zone=one; return 301 https://example.com; }`)
  assert.deepEqual(warnings, [
    [10, 'return in location "/health" answers in nginx\'s rewrite phase, before limit_req: nginx does not rate-limit these requests, Fulcrum does (zone one); if that matters, set limit_req only in the locations that proxy'],
    [13, 'return in the server answers in nginx\'s rewrite phase, before limit_req: nginx does not rate-limit these requests, Fulcrum does (zone one); if that matters, set limit_req only in the locations that proxy'],
  ])
})

test('limit_req keys Fulcrum has no counterpart for are refused at the zone, when used', async () => {
  assert.deepEqual(await problems(`
  limit_req_zone $server_name zone=site:1m rate=1r/s;
  limit_req_zone "$binary_remote_addr$uri" zone=page:1m rate=1r/s;
  limit_req_zone $uri zone=unused:1m rate=1r/s;
  server {
    listen 8080;
    location / { limit_req zone=site; limit_req zone=page; proxy_pass http://10.0.0.1:80; }
  }`), [
    [4, 'limit_req_zone site: the key "$server_name" is not supported; Fulcrum keeps rate limits per client address ($binary_remote_addr, $remote_addr) or per request header ($http_NAME)'],
    [5, 'limit_req_zone page: the key "$binary_remote_addr$uri" is not supported; Fulcrum keeps rate limits per client address ($binary_remote_addr, $remote_addr) or per request header ($http_NAME)'],
  ])
})

test('limit_req and its zones: what nginx -t refuses', async () => {
  assert.deepEqual(await problems(`
  limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;
  limit_req_zone $remote_addr zone=one:1m rate=2r/s;
  limit_req_zone $binary_remote_addr zone=small:16k rate=1r/s;
  limit_req_zone $binary_remote_addr zone=nosize rate=1r/s;
  limit_req_zone $binary_remote_addr zone=fast:1m rate=1.5r/s;
  limit_conn_zone $binary_remote_addr zone=conn:1m;
  limit_req_status 302;
  limit_req_log_level debug;
  server {
    listen 8080;
    location /a/ { limit_req zone=nope; proxy_pass http://10.0.0.1:80; }
    location /b/ { limit_req zone=one burst=0; proxy_pass http://10.0.0.1:80; }
    location /c/ { limit_req zone=one; limit_req zone=one burst=2; proxy_pass http://10.0.0.1:80; }
    location /d/ { limit_req burst=2; proxy_pass http://10.0.0.1:80; }
    location /e/ { limit_req zone=conn; proxy_pass http://10.0.0.1:80; }
    location /f/ { limit_req zone=one slowly; proxy_pass http://10.0.0.1:80; }
  }`), [
    [5, 'limit_req_zone "one" is already bound to key "$binary_remote_addr" (line 4); give it another name'],
    [6, 'zone "zone=small:16k" is too small; give it at least 32k'],
    [7, 'invalid zone size "zone=nosize"; write zone=NAME:SIZE, such as zone=nosize:10m'],
    [8, 'invalid rate "rate=1.5r/s"; write a whole number of requests per second or minute, such as rate=10r/s or rate=30r/m'],
    [10, 'invalid value "302" in "limit_req_status": value must be between 400 and 599'],
    [11, 'invalid value "debug" in "limit_req_log_level"; write info, notice, warn or error'],
    [14, 'zero size shared memory zone "nope": no limit_req_zone defines it; add limit_req_zone $binary_remote_addr zone=nope:10m rate=10r/s; in http'],
    [15, 'invalid burst value "burst=0"; write a number of requests of at least 1'],
    [16, '"limit_req" directive is duplicate (zone "one" on line 16); keep one'],
    [17, '"limit_req" must have "zone" parameter; write limit_req zone=NAME [burst=N] [nodelay | delay=N]'],
    [18, 'the shared memory zone "conn" is already declared for a different use (limit_conn_zone on line 9); limit_req needs a limit_req_zone'],
    [19, 'invalid parameter "slowly" in "limit_req"; write limit_req zone=NAME [burst=N] [nodelay | delay=N]'],
  ])
})

test('limit_req_dry_run on is refused (Fulcrum has no dry run); log levels and dry_run off change nothing', async () => {
  assert.deepEqual(await problems(`
  limit_req_dry_run on;
  server { listen 8080; location / { return 200; } }`), [
    [4, 'limit_req_dry_run on is not supported: Fulcrum has no dry-run mode and would refuse the requests nginx only logs; remove it, or the limits'],
  ])
  const { warnings } = await ok(`
  limit_req_log_level warn;
  limit_conn_dry_run off;
  server { listen 8080; location / { return 200; } }`)
  assert.deepEqual(warnings, [[undefined, 'accepted, but change nothing in Fulcrum: limit_req_log_level (line 4), limit_conn_dry_run (line 5)']])
})

test('limit_conn -> the listener\'s connectionLimits: per client address, per server, nginx\'s 503 unless limit_conn_status', async () => {
  const { listeners, warnings } = await ok(`
  limit_conn_zone $binary_remote_addr zone=addr:10m;
  limit_conn_zone $server_name zone=site:1m;
  limit_conn_zone $server_port zone=port:1m;
  limit_conn addr 10;
  server {
    listen 8080;
    limit_conn addr 5;
    limit_conn site 100;
    limit_conn_status 429;
    location / { proxy_pass http://10.0.0.1:80; }
    location /same/ { limit_conn addr 5; limit_conn site 100; proxy_pass http://10.0.0.1:80; }
  }
  server { listen 8081; location / { proxy_pass http://10.0.0.1:80; } }
  server { listen 8082; limit_conn addr 3; limit_conn port 50; location / { proxy_pass http://10.0.0.1:80; } }`)
  assert.deepEqual(listeners.map((l) => l.connectionLimits), [
    { perClient: 5, total: 100, status: 429 },
    { perClient: 10, status: 503 },
    { perClient: 3, total: 50, status: 503 },
  ])
  assert.deepEqual(warnings, [
    [4, 'limit_conn_zone addr is used on *:8080 and *:8081: nginx keeps one count per value of $binary_remote_addr across them, Fulcrum one per listener (up to the limit on each)'],
  ])
})

test('limit_conn Fulcrum cannot count as nginx does: per location, differing servers on one address, $server_name shared, other keys', async () => {
  assert.deepEqual(await problems(`
  limit_conn_zone $binary_remote_addr zone=addr:10m;
  limit_conn_zone $server_name zone=site:1m;
  limit_conn_zone $uri zone=page:1m;
  server {
    listen 8080;
    limit_conn addr 5;
    location / { limit_conn addr 2; proxy_pass http://10.0.0.1:80; }
    location /status/ { limit_conn_status 429; proxy_pass http://10.0.0.1:80; }
  }
  server { listen 8080; server_name b.test; limit_conn addr 6; location / { proxy_pass http://10.0.0.1:80; } }
  server { listen 8081; limit_conn site 10; location / { proxy_pass http://10.0.0.1:80; } }
  server { listen 8081; server_name c.test; limit_conn site 10; location / { proxy_pass http://10.0.0.1:80; } }
  server { listen 8082; limit_conn page 10; location / { proxy_pass http://10.0.0.1:80; } }`), [
    [6, 'limit_conn_zone page: the key "$uri" is not supported; Fulcrum counts connections per client address ($binary_remote_addr, $remote_addr) or per listener ($server_name, $server_addr, $server_port)'],
    [10, 'limit_conn in location "/": Fulcrum counts connections per listener, not per location; move the limit (and limit_conn_status) to the server or http level'],
    [11, 'limit_conn in location "/status/": Fulcrum counts connections per listener, not per location; move the limit (and limit_conn_status) to the server or http level'],
    [13, 'limit_conn differs between the server blocks on *:8080 (lines 7 and 13); Fulcrum counts connections per listener, so give every server on the address the same limit_conn and limit_conn_status (or set them in http)'],
    [14, 'limit_conn site: nginx counts $server_name per server block, and 2 server blocks share *:8081; Fulcrum\'s total counts the whole listener; key the zone by $server_addr, or give the address one server block'],
  ])
  assert.deepEqual(await problems(`
  limit_conn_zone $binary_remote_addr zone=addr:10m;
  server { listen 8080; limit_conn addr 0; limit_conn nope 1; location / { return 200; } }`), [
    [5, 'zero size shared memory zone "nope": no limit_conn_zone defines it; add limit_conn_zone $binary_remote_addr zone=nope:10m; in http'],
    [5, 'invalid number of connections "0" in "limit_conn"; write limit_conn ZONE NUMBER with a NUMBER of at least 1'],
  ])
})

test('large_client_header_buffers -> maxHeaderBytes (all buffers) and maxUriBytes (one); nginx\'s 4 8k without it', async () => {
  const { listeners, warnings, result } = await ok(`
  server { listen 8080; location / { return 200; } }
  server { listen 8081; large_client_header_buffers 2 1k; location / { return 200; } }
  server { listen 8081; server_name b.test; large_client_header_buffers 8 16k; location / { return 200; } }`)
  assert.deepEqual(listeners.map((l) => l.limits), [
    { headerTimeout: '60s', keepAliveTimeout: '75s', maxHeaderBytes: '32k', maxUriBytes: '8k', maxHeaders: 8192 },
    { headerTimeout: '60s', keepAliveTimeout: '75s', maxHeaderBytes: '2k', maxUriBytes: '1k', maxHeaders: 512 },
  ])
  assert.deepEqual(warnings, [[6, 'large_client_header_buffers differs from the default server\'s on *:8081; Fulcrum applies one value per listener (the default server\'s, 2 1k)']])
  const limits = httpListeners(result.config)[0].limits
  assert.deepEqual([limits.maxHeaderBytes, limits.maxUriBytes, limits.maxHeaders], [32 * 1024, 8 * 1024, 8192])
  assert.deepEqual(await problems(`
  large_client_header_buffers 0 8k;
  server { listen 8080; location / { large_client_header_buffers 4 8k; return 200; } }`), [
    [4, '"large_client_header_buffers" directive invalid value; write NUMBER SIZE, such as 4 8k'],
    [5, '"large_client_header_buffers" is not allowed in "location"; it belongs in "http" or "server"'],
  ])
})

test('client_body_timeout: the listener\'s from http, written on locations where the server or location differs', async () => {
  const { listeners } = await ok(`
  client_body_timeout 30s;
  server {
    listen 8080;
    location / { proxy_pass http://10.0.0.1:80; }
    location /up/ { client_body_timeout 5m; proxy_pass http://10.0.0.1:80; location /up/x/ { proxy_pass http://10.0.0.1:80; } }
  }
  server {
    listen 8081;
    client_body_timeout 10s;
    location / { proxy_pass http://10.0.0.1:80; }
  }`)
  assert.equal(listeners[0].limits.bodyTimeout, '30s')
  const [root, up] = locations(listeners[0])
  assert.equal(root.limits, undefined)
  assert.deepEqual(up.limits, { bodyTimeout: '5m' })
  assert.deepEqual(up.locations[0].limits, { bodyTimeout: '5m' })
  assert.deepEqual(locations(listeners[1])[0].limits, { bodyTimeout: '10s' })
  const { listeners: plain } = await ok('server { listen 8080; location / { client_body_timeout 60s; return 200; } }')
  assert.equal(plain[0].limits.bodyTimeout, undefined, 'nginx\'s 60s is Fulcrum\'s default')
  assert.equal(locations(plain[0])[0].limits, undefined)
  assert.deepEqual(await problems('client_body_timeout 0;\n  server { listen 8080; location / { return 200; } }'), [
    [3, 'client_body_timeout 0 is not supported; give a time such as 60s'],
  ])
})

test('set_real_ip_from with real_ip_header X-Forwarded-For -> trustedProxies; real_ip_recursive off warns when two proxies can be trusted', async () => {
  const single = await ok(`
  set_real_ip_from 127.0.0.1;
  real_ip_header X-Forwarded-For;
  server { listen 8080; location / { proxy_pass http://10.0.0.1:80; } }`)
  assert.deepEqual(single.listeners[0].trustedProxies, ['127.0.0.1'])
  assert.deepEqual(single.warnings, [], 'one trusted address: the last X-Forwarded-For address is never a trusted proxy in practice')
  const ranges = await ok(`
  server {
    listen 8080;
    set_real_ip_from 10.0.0.0/8;
    set_real_ip_from 2001:db8::/32;
    real_ip_header x-forwarded-for;
    location / { proxy_pass http://10.0.0.1:80; }
  }`)
  assert.deepEqual(ranges.listeners[0].trustedProxies, ['10.0.0.0/8', '2001:db8::/32'])
  assert.deepEqual(ranges.warnings, [[8, 'real_ip_recursive off (nginx\'s default): nginx takes the last X-Forwarded-For address as the client even when it is a trusted proxy itself; Fulcrum skips trusted addresses right to left (real_ip_recursive on), so the two differ for requests that passed two trusted proxies; add real_ip_recursive on; to make nginx agree']])
  const recursive = await ok(`
  set_real_ip_from 10.0.0.0/8;
  real_ip_header X-Forwarded-For;
  real_ip_recursive on;
  server { listen 8080; location / { proxy_pass http://10.0.0.1:80; } }`)
  assert.deepEqual(recursive.warnings, [])
})

test('the real IP from other headers, per location, or differing per server is refused; names and "all" too', async () => {
  assert.deepEqual(await problems(`
  server { listen 8080; set_real_ip_from 10.0.0.1; location / { proxy_pass http://10.0.0.1:80; } }
  server { listen 8081; set_real_ip_from 10.0.0.1; real_ip_header CF-Connecting-IP; location / { proxy_pass http://10.0.0.1:80; } }
  server {
    listen 8082;
    set_real_ip_from 10.0.0.1;
    real_ip_header X-Forwarded-For;
    location / { set_real_ip_from 10.0.0.2; proxy_pass http://10.0.0.1:80; }
    location /same/ { set_real_ip_from 10.0.0.1; proxy_pass http://10.0.0.1:80; }
  }
  server { listen 8083; set_real_ip_from 10.0.0.1; real_ip_header X-Forwarded-For; location / { proxy_pass http://10.0.0.1:80; } }
  server { listen 8083; server_name b.test; location / { proxy_pass http://10.0.0.1:80; } }
  server { listen 8084; set_real_ip_from proxy.internal; real_ip_header X-Forwarded-For; location / { proxy_pass http://10.0.0.1:80; } }`), [
    [4, 'real_ip_header X-Real-IP (nginx\'s default): Fulcrum reads the client from X-Forwarded-For only (trustedProxies); write real_ip_header X-Forwarded-For; if the proxies in front send it'],
    [5, 'real_ip_header CF-Connecting-IP: Fulcrum reads the client from X-Forwarded-For only (trustedProxies); write real_ip_header X-Forwarded-For; if the proxies in front send it'],
    [10, 'set_real_ip_from/real_ip_header/real_ip_recursive in location "/": Fulcrum decides who the client is per listener; move them to the server or http level'],
    [14, 'set_real_ip_from/real_ip_header/real_ip_recursive differ between the server blocks on *:8083 (lines 13 and 14); Fulcrum decides who the client is per listener, so give every server on the address the same (or set them in http)'],
    [15, 'set_real_ip_from "proxy.internal": Fulcrum trusts addresses and CIDRs only; write the addresses the name resolves to'],
  ])
  assert.deepEqual(await problems('set_real_ip_from all;\n  server { listen 8080; location / { return 200; } }'), [
    [3, 'host not found in set_real_ip_from "all"; write an address or a CIDR such as 10.0.0.0/8'],
  ])
})

test('listen … proxy_protocol -> acceptProxyProtocol; real_ip_header proxy_protocol makes nginx agree', async () => {
  const bare = await ok('server { listen 8080 proxy_protocol; location / { proxy_pass http://10.0.0.1:80; } }')
  assert.equal(bare.listeners[0].acceptProxyProtocol, true)
  assert.deepEqual(bare.warnings, [[3, 'listen 8080 proxy_protocol: Fulcrum takes the PROXY header\'s source as the client ($remote_addr, allow/deny, limits, logs); nginx keeps the address of the balancer in front unless set_real_ip_from names it and real_ip_header is proxy_protocol; add both to make nginx agree']])
  const agreed = await ok(`
  set_real_ip_from 10.0.0.0/8;
  real_ip_header proxy_protocol;
  server { listen 8080 proxy_protocol; location / { proxy_pass http://10.0.0.1:80; } }
  server { listen 8081; location / { proxy_pass http://10.0.0.1:80; } }`)
  assert.deepEqual(agreed.listeners.map((l) => [l.acceptProxyProtocol, l.trustedProxies]), [[true, undefined], [undefined, undefined]])
  assert.deepEqual(agreed.warnings, [
    [5, 'real_ip_header proxy_protocol: Fulcrum believes the PROXY header of every connection on *:8080, nginx only from the set_real_ip_from addresses; make sure only those can reach the port'],
    [5, 'real_ip_header proxy_protocol has no effect on *:8081, which has no listen … proxy_protocol'],
  ])
  const config = httpListeners(agreed.result.config)
  assert.deepEqual(config.map((l) => l.acceptProxyProtocol), [true, false])
})

test('stream: limit_conn -> the tcp listener\'s connectionLimits; refused on udp', async () => {
  const result = await parseNginxConfigText(`events {}
stream {
  limit_conn_zone $binary_remote_addr zone=addr:1m;
  limit_conn_zone $server_addr zone=all:1m;
  limit_conn addr 4;
  upstream db { server 10.0.0.1:5432; }
  server { listen 5432; limit_conn all 100; limit_conn addr 2; proxy_pass db; }
  server { listen 5433; proxy_pass db; }
}
`, '/tmp/stream.conf', { resolveHosts: false })
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems))
  const listeners = (result.input as { listeners: Out[] }).listeners
  assert.deepEqual(listeners.map((l) => l.connectionLimits), [{ perClient: 2, total: 100 }, { perClient: 4 }])
  const udp = await parseNginxConfigText(`events {}
stream {
  limit_conn_zone $binary_remote_addr zone=addr:1m;
  server { listen 53 udp; limit_conn addr 2; proxy_pass 10.0.0.1:53; }
}
`, '/tmp/stream.conf', { resolveHosts: false })
  assert.deepEqual(!udp.ok && udp.problems.map((p) => [p.line, p.message]), [
    [4, 'limit_conn on listen 53 udp: Fulcrum limits connections of tcp listeners only; remove it for this server'],
  ])
})
