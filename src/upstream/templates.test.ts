import { test } from 'node:test'
import assert from 'node:assert/strict'
import { argValue, compileTemplate, cookieValue, evaluate, templateProblems, type TemplateSource } from './templates.ts'

const source = (over: Partial<TemplateSource> = {}): TemplateSource => ({
  method: 'GET',
  url: '/a/./b/../c%20d?x=1&User=bob',
  clientIp: '10.0.0.9',
  headers: { host: 'Example.COM:8080', 'x-user': 'u1', cookie: 'sid=abc; Theme="dark"', 'x-forwarded-for': '1.1.1.1' },
  remotePort: 51000,
  serverPort: '8080',
  serverName: 'example.com',
  proxyHost: 'backend',
  ...over,
})

const run = (text: string, s: TemplateSource = source()): string => evaluate(compileTemplate(text), s)

test('a template without variables is a constant', () => {
  const t = compileTemplate('plain text, $ 5 and $9')
  assert.equal(t.constant, 'plain text, $ 5 and $9')
  assert.equal(evaluate(t, source()), 'plain text, $ 5 and $9')
})

test('request variables follow nginx', () => {
  assert.equal(run('$host'), 'example.com')
  assert.equal(run('$http_host'), 'Example.COM:8080')
  assert.equal(run('$remote_addr:$remote_port'), '10.0.0.9:51000')
  assert.equal(run('$scheme://$server_name:$server_port'), 'http://example.com:8080')
  assert.equal(run('$request_uri'), '/a/./b/../c%20d?x=1&User=bob')
  assert.equal(run('$uri'), '/a/c d')
  assert.equal(run('$args|$is_args'), 'x=1&User=bob|?')
  assert.equal(run('$request_method'), 'GET')
  assert.equal(run('$proxy_host'), 'backend')
  assert.equal(run('$proxy_add_x_forwarded_for'), '1.1.1.1, 10.0.0.9')
  assert.equal(run('$proxy_add_x_forwarded_for', source({ headers: {} })), '10.0.0.9')
})

test('$host falls back to the server name without a Host header', () => {
  assert.equal(run('$host', source({ headers: {} })), 'example.com')
  assert.equal(run('$host', source({ headers: { host: 'a.test.' } })), 'a.test')
  assert.equal(run('$host', source({ headers: { host: '[::1]:80' } })), '[::1]')
})

test('$http_NAME, $cookie_NAME, $arg_NAME; names are case-insensitive; missing ones are empty', () => {
  assert.equal(run('$http_x_user'), 'u1')
  assert.equal(run('$HTTP_X_USER'), 'u1')
  assert.equal(run('$cookie_sid'), 'abc')
  assert.equal(run('$cookie_theme'), '"dark"')
  assert.equal(run('$arg_x/$arg_user/$arg_none'), '1/bob/')
  assert.equal(run('$http_none|$cookie_none'), '|')
})

test('${name} braces join a variable to text', () => {
  assert.equal(run('${host}x'), 'example.comx')
  assert.equal(run('pre-${remote_addr}-post $host'), 'pre-10.0.0.9-post example.com')
})

test('unknown variables and unclosed braces are reported by name', () => {
  assert.deepEqual(templateProblems('$host $request_uri'), [])
  const [unknown] = templateProblems('https://$hots$request_uri')
  assert.match(unknown, /unknown variable "\$hots"/)
  assert.match(templateProblems('${host')[0], /no closing/)
  assert.throws(() => compileTemplate('$nope'), /unknown variable "\$nope"/)
})

test('cookie and arg scanners', () => {
  assert.equal(cookieValue('a=1;b=2 ; c=3', 'b'), '2')
  assert.equal(cookieValue('ab=1; b=2', 'b'), '2')
  assert.equal(cookieValue('', 'b'), '')
  assert.equal(argValue('a=1&bb=2&b=3', 'b'), '3')
  assert.equal(argValue('a', 'a'), '')
  assert.equal(argValue('a=', 'a'), '')
})

test('hash keys that are templates hash the evaluated text; an empty one counts as no key', async () => {
  const { hash } = await import('../balancing/hash.ts')
  const { HashRing, hash32 } = await import('../balancing/hash-ring.ts')
  const { request, targets } = await import('../balancing/testing.ts')
  const ts = targets(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'])
  const ring = new HashRing(ts)
  const h = hash(ts, { hashKey: '$remote_addr$http_x_user' })
  for (let i = 0; i < 50; i++) {
    const req = request({ clientIp: `10.1.0.${i}`, headers: { 'x-user': `u${i}` } })
    assert.equal(h.pick(ts, req), ring.pick(ts, hash32(`10.1.0.${i}u${i}`)))
  }
  const byUri = hash(ts, { hashKey: '$request_uri' })
  assert.equal(byUri.pick(ts, request({ url: '/a?b=1' })), ring.pick(ts, hash32('/a?b=1')))
  const empty = hash(ts, { hashKey: '$http_x_none' })
  const picked = new Set([0, 1, 2].map(() => empty.pick(ts, request({}))))
  assert.equal(picked.size, 3, 'no key: round robin, as nginx does with an empty hash key')
})
