import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNginxConfigText, readNginxInputText } from './load.ts'

test('a huge file goes through the whole loader in bounded time', async () => {
  const lines = ['events {}', 'http {', '  upstream big {']
  for (let i = 0; i < 200_000; i++) lines.push(`    server 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80;`)
  lines.push('  }', '  server {', '    listen 8080;')
  for (let i = 0; i < 2_000; i++) lines.push(`    location /p${i}/ { proxy_set_header X-N ${i}; proxy_pass http://big; }`)
  lines.push('  }', '}')
  const started = performance.now()
  const result = await parseNginxConfigText(lines.join('\n'), '/tmp/big.conf', { resolveHosts: false })
  const ms = performance.now() - started
  assert.ok(result.ok, result.ok ? '' : result.problems[0].message)
  assert.equal(Object.values(result.config.targetGroups)[0].targets.length, 200_000)
  assert.ok(ms < 20_000, `took ${ms} ms`)
})

test('problems are reported once even when a server listens on several addresses', async () => {
  const text = 'events {}\nhttp {\n  server {\n    listen 8080;\n    listen 8081;\n    location / { proxy_pass http://10.0.0.1:80; proxy_read_timeout soon; }\n  }\n}\n'
  const result = await readNginxInputText(text, '/tmp/twice.conf', { resolveHosts: false })
  assert.equal(result.ok, false)
  if (!result.ok) assert.deepEqual(result.problems.map((p) => p.line), [6])
})

test('FULCRUM_ADMIN_LISTEN moves or turns off the admin API, which an nginx file cannot name', async (t) => {
  const text = 'events {}\nhttp { server { listen 8080; location / { return 200; } } }\n'
  t.after(() => { delete process.env.FULCRUM_ADMIN_LISTEN })
  process.env.FULCRUM_ADMIN_LISTEN = 'off'
  const off = await parseNginxConfigText(text, '/tmp/a.conf')
  assert.equal(off.ok && off.config.admin.enabled, false)
  process.env.FULCRUM_ADMIN_LISTEN = '127.0.0.1:9191'
  const moved = await parseNginxConfigText(text, '/tmp/a.conf')
  assert.equal(moved.ok && moved.config.admin.listen, '127.0.0.1:9191')
})

test('a problem in the generated configuration points at the nginx directive behind it', async () => {
  // The admin API's default port, taken by a server block: found by Fulcrum's own checks, reported at the listen.
  const text = 'events {}\nhttp {\n  server {\n    listen 127.0.0.1:9090;\n    location / { return 200; }\n  }\n}\n'
  const result = await parseNginxConfigText(text, '/tmp/admin.conf', { resolveHosts: false })
  assert.equal(result.ok, false)
  if (!result.ok) {
    assert.equal(result.problems[0].line, 4)
    assert.match(result.problems[0].message, /^listen: port 9090 is already used by the admin API/)
  }
})

test('a warning about a target group points at its upstream block', async () => {
  const text = 'events {}\nhttp {\n  upstream app {\n    server 10.0.0.1:80 down;\n  }\n  server { listen 8080; location / { proxy_pass http://app; } }\n}\n'
  const result = await parseNginxConfigText(text, '/tmp/down.conf', { resolveHosts: false })
  assert.ok(result.ok)
  if (result.ok) {
    assert.deepEqual(result.warnings.map((w) => [w.line, w.message]), [[3, 'upstream: the group has no targets, so requests forwarded to it will get 503']])
  }
})
