import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compileFormat, escapeLog, timeIso8601, timeLocal } from './log-format.ts'
import { fakeRecord } from './testing.ts'

// 2026-11-21T23:49:57.250Z
const WALL = Date.UTC(2026, 10, 21, 23, 49, 57, 250)

function withTz<T>(tz: string, fn: () => T): T {
  const before = process.env.TZ
  process.env.TZ = tz
  try {
    return fn()
  } finally {
    if (before === undefined) delete process.env.TZ
    else process.env.TZ = before
  }
}

test('combined is nginx\'s format: "-" for empty values, the request line, status and body bytes', () => {
  const { format, problems } = compileFormat('combined')
  assert.deepEqual(problems, [])
  const r = fakeRecord({ url: '/a?b=1', status: 201, bytesSent: 42, headers: { 'user-agent': 'curl/8' } })
  const line = withTz('UTC', () => format(r, 5, WALL))
  assert.equal(line, '127.0.0.1 - - [21/Nov/2026:23:49:57 +0000] "GET /a?b=1 HTTP/1.1" 201 42 "-" "curl/8"\n')
})

test('escaping as nginx: quotes, backslashes, control and non-ASCII bytes become \\xHH', () => {
  assert.equal(escapeLog('plain text ~!'), 'plain text ~!')
  assert.equal(escapeLog('a"b\\c\td\x7f\xe9'), 'a\\x22b\\x5Cc\\x09d\\x7F\\xE9')
  // A character beyond latin1 (not from node's parser, but possible in a template value) as its UTF-8 bytes.
  assert.equal(escapeLog('€'), '\\xE2\\x82\\xAC')
})

test('499 when the client left first; $remote_user from Basic auth', () => {
  const { format } = compileFormat('$status $remote_user')
  const auth = `Basic ${Buffer.from('alice:secret').toString('base64')}`
  assert.equal(format(fakeRecord({ clientAborted: true, headers: { authorization: auth } }), 0, WALL), '499 alice\n')
  assert.equal(format(fakeRecord({ headers: { authorization: 'Bearer x' } }), 0, WALL), '200 -\n')
})

test('template variables', () => {
  const { format, problems } = compileFormat(
    '$request_method $request_uri $uri $args $host $server_port $http_x_custom $request_time $upstream_addr $upstream_response_time ' +
    '$upstream_header_time $request_id $listener $route $target_group $retries ${status}x $body_bytes_sent $msec')
  assert.deepEqual(problems, [])
  const r = fakeRecord({
    method: 'POST', url: '/p/q?x=1&y=2', headers: { host: 'Example.COM:8080', 'x-custom': 'v"1' }, localPort: 9000,
    startedAt: 100, upstream: '10.0.0.1:80', upstreamHeaderMs: 3.2, upstreamMs: 11.9, requestId: 'abc', route: 2,
    targetGroup: 'api', retries: 1, status: 503, bytesSent: 7,
  })
  assert.equal(format(r, 112.3456, WALL),
    'POST /p/q?x=1&y=2 /p/q x=1&y=2 example.com 9000 v\\x221 0.012 10.0.0.1:80 0.012 0.003 abc web 2 api 1 503x 7 1795304997.250\n')
  const local = fakeRecord({ route: -1, status: 404 })
  assert.equal(format(local, 0, WALL), 'GET / / - - 8080 - 0.000 - - - - web - - 0 404x 0 1795304997.250\n')
})

test('unknown variables are reported and print "-"', () => {
  const { format, problems } = compileFormat('$status $nope')
  assert.equal(problems.length, 1)
  assert.match(problems[0], /unknown variable \$nope/)
  assert.equal(format(fakeRecord(), 0, WALL), '200 -\n')
})

test('json has one object per line with every field', () => {
  const { format } = compileFormat('json')
  const r = fakeRecord({
    method: 'PUT', url: '/x?y', status: 502, bytesSent: 12, startedAt: 10, upstream: '10.0.0.2:81', upstreamMs: 4.56789,
    retries: 2, route: 1, targetGroup: 'app', requestId: 'rid', clientIp: '::1', headers: { 'user-agent': 'ua', referer: 'http://r/' },
  })
  const line = format(r, 15.5, WALL)
  assert.ok(line.endsWith('}\n'))
  assert.deepEqual(JSON.parse(line), {
    time: '2026-11-21T23:49:57.250Z', request_id: 'rid', client: '::1', method: 'PUT', uri: '/x?y', protocol: 'HTTP/1.1',
    status: 502, bytes: 12, duration_ms: 5.5, upstream: '10.0.0.2:81', upstream_ms: 4.568, retries: 2, route: 1,
    target_group: 'app', listener: 'web', user_agent: 'ua', referer: 'http://r/',
  })
  const local = JSON.parse(format(fakeRecord({ route: -1, status: 404 }), 0, WALL))
  assert.deepEqual([local.request_id, local.upstream, local.upstream_ms, local.route, local.target_group, local.referer], [null, null, null, null, null, null])
})

test('times in the machine\'s zone, with nginx\'s offsets', () => {
  withTz('Asia/Kolkata', () => {
    assert.equal(timeLocal(WALL + 1000), '22/Nov/2026:05:19:58 +0530')
    assert.equal(timeIso8601(WALL + 1000), '2026-11-22T05:19:58+05:30')
  })
  withTz('America/New_York', () => {
    assert.equal(timeLocal(WALL + 2000), '21/Nov/2026:18:49:59 -0500')
    assert.equal(timeIso8601(WALL + 2000), '2026-11-21T18:49:59-05:00')
  })
})
