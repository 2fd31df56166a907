/**
 * Access logs through a real data plane: `combined` byte for byte against nginx's own line for the same
 * request, the json and template formats, and failures that must not stop proxying (a full disk, a folder
 * deleted and recreated). access-log-reopen.test.ts runs the real CLI for SIGUSR1.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { ConfigInput } from '../../src/config/schema.ts'
import { InProcessDataPlane } from '../../src/control/data-plane.ts'
import { silentLogger } from '../../src/log.ts'
import { Backend } from '../helpers/backend.ts'
import { parse } from '../helpers/balancer.ts'
import { freePort, spawnCommand, until, waitForListening } from '../helpers/process.ts'

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-access-log-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A backend with fixed answers, so nginx and Fulcrum log the same status and body size. With a
 * Content-Length: nginx asks in HTTP/1.0, and without one it would answer its client chunked and count
 * the chunk framing in $body_bytes_sent, where Fulcrum counts the body bytes.
 */
async function fixedBackend(t: TestContext): Promise<Backend> {
  const b = await new Backend((req, res) => {
    req.resume()
    const [status, body] = req.url === '/created' ? [201, 'made\n'] : [200, 'hello world\n']
    res.writeHead(status, { 'content-length': body.length })
    res.end(body)
  }).start()
  t.after(() => b.close())
  return b
}

async function startPlane(t: TestContext, dir: string, accessLog: Record<string, string>, target: string, log = silentLogger()): Promise<{ plane: InProcessDataPlane; port: number }> {
  const plane = new InProcessDataPlane(log, { metrics: false, configDir: dir })
  const input = {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', accessLog, routes: [{ forward: 'app' }] }],
    targetGroups: { app: { targets: [target] } },
  } as ConfigInput
  await plane.start(parse(input), [])
  t.after(() => plane.stop(500))
  return { plane, port: (await plane.ports()).web }
}

/**
 * Sends raw request bytes on a new connection and resolves with the whole answer once the server closes
 * it (Connection: close). The client does not half-close first: nginx and Fulcrum both take that for a
 * client leaving (499).
 */
function raw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
  })
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'latin1').split('\n').filter((l) => l !== '') : []
}

// What nginx escapes: quotes, a backslash, a tab and UTF-8 bytes in headers; a backslash in the query.
const REQUESTS = [
  Buffer.concat([
    Buffer.from('GET /a/b%20c/caf%C3%A9?x=1&y=\\z HTTP/1.1\r\nHost: example.test\r\nUser-Agent: Tester "quoted" \\ 1.0\t'),
    Buffer.from([0xc3, 0xa9]),
    Buffer.from(`\r\nReferer: http://ref.example/page?a="b"\r\nAuthorization: Basic ${Buffer.from('alice:pw').toString('base64')}\r\nConnection: close\r\n\r\n`),
  ]),
  Buffer.from('POST /created HTTP/1.1\r\nHost: example.test\r\nUser-Agent: fixed-agent/1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc'),
  Buffer.from('HEAD / HTTP/1.0\r\nUser-Agent: fixed-agent/1\r\n\r\n'),
]

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p))

test('combined: the same line as nginx\'s for the same requests (except the time)', async (t) => {
  if (NGINX === undefined) {
    assert.notEqual(process.env.CI, 'true', 'nginx must be installed in CI (.ci/run installs nginx-light)')
    t.skip('nginx is not installed here: the byte-for-byte comparison with nginx is skipped')
    return
  }
  const dir = tempDir(t)
  const backend = await fixedBackend(t)
  const nginxPort = await freePort()
  const nginxLog = join(dir, 'nginx-access.log')
  mkdirSync(join(dir, 'tmp'))
  writeFileSync(join(dir, 'nginx.conf'), `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 64; }
http {
  access_log ${nginxLog} combined;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://${backend.address}; }
  }
}
`)
  const nginx = spawnCommand(t, NGINX, ['-p', dir, '-e', join(dir, 'nginx-error.log'), '-c', join(dir, 'nginx.conf')], 'nginx')
  await waitForListening(nginxPort, 5_000, nginx)
  const { port } = await startPlane(t, dir, { format: 'combined', path: 'fulcrum-access.log' }, backend.address)
  const fulcrumLog = join(dir, 'fulcrum-access.log')

  for (const req of REQUESTS) {
    const [a, b] = await Promise.all([raw(nginxPort, req), raw(port, req)])
    assert.equal(a.split('\r\n')[0], b.split('\r\n')[0], 'the same status line')
  }
  await until(() => lines(nginxLog).length === REQUESTS.length && lines(fulcrumLog).length === REQUESTS.length, 5_000, 'both logs')
  const withoutTime = (l: string): string => l.replace(/\[\d\d\/\w\w\w\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]/, '[TIME]')
  const expected = lines(nginxLog).map(withoutTime)
  assert.deepEqual(lines(fulcrumLog).map(withoutTime), expected)
  assert.match(expected[0], /^127\.0\.0\.1 - alice \[TIME\] "GET \/a\/b%20c\/caf%C3%A9\?x=1&y=\\x5Cz HTTP\/1\.1" 200 12 "http:\/\/ref\.example\/page\?a=\\x22b\\x22" "Tester \\x22quoted\\x22 \\x5C 1\.0\\x09\\xC3\\xA9"$/)
})

test('json: one object per line with the request\'s facts', async (t) => {
  const dir = tempDir(t)
  const backend = await fixedBackend(t)
  const { port } = await startPlane(t, dir, { format: 'json', path: 'logs/access.json' }, backend.address)
  await raw(port, REQUESTS[1])
  const file = join(dir, 'logs/access.json')
  await until(() => lines(file).length === 1, 5_000, 'the line')
  const entry = JSON.parse(lines(file)[0])
  assert.equal(typeof entry.duration_ms, 'number')
  assert.equal(typeof entry.upstream_ms, 'number')
  assert.match(entry.request_id, /^[0-9a-f-]{36}$/)
  assert.ok(!Number.isNaN(Date.parse(entry.time)))
  for (const k of ['time', 'request_id', 'duration_ms', 'upstream_ms']) delete entry[k]
  assert.deepEqual(entry, {
    client: '127.0.0.1', method: 'POST', uri: '/created', protocol: 'HTTP/1.1', status: 201, bytes: 5,
    upstream: backend.address, retries: 0, route: 0, target_group: 'app', listener: 'web', user_agent: 'fixed-agent/1', referer: null,
  })
})

test('a template with nginx variables', async (t) => {
  const dir = tempDir(t)
  const backend = await fixedBackend(t)
  const format = '$remote_addr "$request_method $uri" args=$args $status $body_bytes_sent up=$upstream_addr rt=$request_time urt=$upstream_response_time ua="$http_user_agent" $server_port'
  const { port } = await startPlane(t, dir, { format, path: 'access.log' }, backend.address)
  await raw(port, Buffer.from('GET /x/y?k=v HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\nConnection: close\r\n\r\n'))
  const file = join(dir, 'access.log')
  await until(() => lines(file).length === 1, 5_000, 'the line')
  const re = new RegExp(`^127\\.0\\.0\\.1 "GET /x/y" args=k=v 200 12 up=${backend.address} rt=\\d+\\.\\d{3} urt=\\d+\\.\\d{3} ua="u" ${port}$`)
  assert.match(lines(file)[0], re)
})

test('accessLog: false leaves a route\'s requests (or a location\'s, nested ones included) out of the log', async (t) => {
  const dir = tempDir(t)
  const backend = await fixedBackend(t)
  const plane = new InProcessDataPlane(silentLogger(), { metrics: false, configDir: dir })
  await plane.start(parse({
    listeners: [
      {
        name: 'routes', protocol: 'http', listen: '127.0.0.1:0', accessLog: { format: '$uri', path: 'routes.log' },
        routes: [{ match: { path: '/health' }, respond: { status: 200, body: 'ok' }, accessLog: false }, { forward: 'app' }],
      },
      {
        name: 'hosts', protocol: 'http', listen: '127.0.0.1:0', accessLog: { format: '$uri', path: 'hosts.log' },
        virtualHosts: [{ locations: [
          { location: '/', forward: 'app' },
          { location: '/quiet/', accessLog: false, forward: 'app', locations: [{ location: '/quiet/loud/', accessLog: true, forward: 'app' }, { location: '/quiet/still/', forward: 'app' }] },
        ] }],
      },
    ],
    targetGroups: { app: { targets: [backend.address] } },
  } as ConfigInput), [])
  t.after(() => plane.stop(500))
  const ports = await plane.ports()
  const send = (port: number, path: string) => raw(port, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`))
  for (const path of ['/health', '/a', '/health', '/b']) await send(ports.routes, path)
  for (const path of ['/x', '/quiet/1', '/quiet/loud/2', '/quiet/still/3', '/y']) await send(ports.hosts, path)
  await until(() => lines(join(dir, 'routes.log')).length === 2 && lines(join(dir, 'hosts.log')).length === 3, 5_000, 'the lines')
  await plane.stop(500)
  assert.deepEqual(lines(join(dir, 'routes.log')), ['/a', '/b'])
  assert.deepEqual(lines(join(dir, 'hosts.log')), ['/x', '/quiet/loud/2', '/y'])
})

/** A logger that keeps its JSON lines, to see what was reported. */
function capturingLogger(): { log: ReturnType<typeof silentLogger>; entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, { write: (s: string) => { entries.push(JSON.parse(s)) } })
  return { log, entries }
}

async function get(port: number, path = '/'): Promise<number> {
  const answer = await raw(port, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`))
  return Number(answer.split(' ')[1])
}

test('a full disk (/dev/full) is reported once and proxying goes on', async (t) => {
  const dir = tempDir(t)
  const backend = await fixedBackend(t)
  const { log, entries } = capturingLogger()
  const { port } = await startPlane(t, dir, { format: 'combined', path: '/dev/full' }, backend.address, log)
  for (let i = 0; i < 50; i++) assert.equal(await get(port), 200)
  await until(() => entries.some((e) => e.code === 'ENOSPC'), 5_000, 'the report')
  const reports = entries.filter((e) => e.level === 50)
  assert.equal(reports.length, 1, JSON.stringify(reports))
  assert.match(String(reports[0].msg), /cannot write access log \/dev\/full; requests are still served/)
})

test('a deleted log folder: requests are served; SIGUSR1\'s reopen recreates it, and a folder that cannot be made is reported', async (t) => {
  const dir = tempDir(t)
  const backend = await fixedBackend(t)
  const { log, entries } = capturingLogger()
  const { plane, port } = await startPlane(t, dir, { format: '$request_uri', path: 'logs/access.log' }, backend.address, log)
  const file = join(dir, 'logs/access.log')
  assert.equal(await get(port, '/one'), 200)
  await until(() => lines(file).length === 1, 5_000, 'the first line')
  rmSync(join(dir, 'logs'), { recursive: true })
  assert.equal(await get(port, '/two'), 200, 'served while the folder is gone (the line goes to the deleted file)')
  plane.reopenLogs()
  assert.equal(await get(port, '/three'), 200)
  await until(() => lines(file).includes('/three'), 5_000, 'the folder and file to be made again')

  // Now a file stands where the folder should be: the reopen fails, is reported, and nothing stops.
  rmSync(join(dir, 'logs'), { recursive: true })
  writeFileSync(join(dir, 'logs'), 'in the way')
  plane.reopenLogs()
  await until(() => entries.some((e) => e.code === 'ENOTDIR'), 5_000, 'the report')
  for (let i = 0; i < 5; i++) assert.equal(await get(port, '/four'), 200)
  assert.equal(entries.filter((e) => e.level === 50).length, 1, 'reported once')
})
