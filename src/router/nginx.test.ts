import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LocationTable, ServerTable, parseLocation, parseServerName, validHost, type LocationSpec } from './nginx.ts'

type Spec = readonly [location: string, value: string, children?: readonly Spec[], autoRedirect?: boolean]
function table(specs: readonly Spec[]): LocationTable<string> {
  const convert = (s: Spec): LocationSpec<string> => ({
    location: s[0], value: s[1], autoRedirect: s[3] === true, children: s[2]?.map(convert),
  })
  return new LocationTable(specs.map(convert))
}
const find = (t: LocationTable<string>, uri: string): string | undefined => {
  const m = t.find(uri)
  return m === undefined ? undefined : m.redirect ? `redirect:${m.value}` : m.value
}

test('the nginx documentation example (ngx_http_core_module, location)', () => {
  const t = table([
    ['= /', 'A'],
    ['/', 'B'],
    ['/documents/', 'C'],
    ['^~ /images/', 'D'],
    ['~* \\.(gif|jpg|jpeg)$', 'E'],
  ])
  assert.equal(find(t, '/'), 'A')
  assert.equal(find(t, '/index.html'), 'B')
  assert.equal(find(t, '/documents/document.html'), 'C')
  assert.equal(find(t, '/images/1.gif'), 'D')
  assert.equal(find(t, '/documents/1.jpg'), 'E')
  assert.equal(find(t, '/documents/1.JPG'), 'E', '~* is case-insensitive')
})

test('the longest prefix wins whatever the order; regexes go in order; ~ is case-sensitive', () => {
  const t = table([
    ['/a/', 'short'],
    ['/a/b/', 'long'],
    ['~ \\.PHP$', 'php-upper'],
    ['~ \\.php$', 'php'],
    ['~ \\.p', 'p-any'],
  ])
  assert.equal(find(t, '/a/b/c'), 'long')
  assert.equal(find(t, '/a/x'), 'short')
  assert.equal(find(t, '/a/x.php'), 'php')
  assert.equal(find(t, '/a/x.pl'), 'p-any')
  assert.equal(find(t, '/other'), undefined, 'no location: 404')
})

test('"=" stops even when a longer prefix or a regex would match; an exact and a prefix of one path', () => {
  const t = table([['= /x', 'exact'], ['/x', 'prefix'], ['~ x', 'regex']])
  assert.equal(find(t, '/x'), 'exact')
  assert.equal(find(t, '/xy'), 'regex')
})

test('^~ stops the regex search only when it is the longest prefix', () => {
  const t = table([['^~ /static/', 'static'], ['/static/img/', 'img'], ['~ \\.png$', 'png']])
  assert.equal(find(t, '/static/a.png'), 'static')
  assert.equal(find(t, '/static/img/a.png'), 'png', 'the longest prefix is plain, so regexes run')
})

// The nested expectations were checked against nginx 1.22.1 with the same locations.
test('nested: the chosen prefix\'s locations are searched first, its regexes before the outer ones', () => {
  const t = table([
    ['/api/', 'api', [
      ['/api/v2/', 'v2'],
      ['~ \\.json$', 'api-json'],
      ['= /api/exact', 'api-exact'],
    ]],
    ['~ \\.json$', 'outer-json'],
    ['~ /api/', 'outer-api-regex'],
  ])
  assert.equal(find(t, '/api/v2/x'), 'outer-api-regex', 'nested prefix v2 then outer regex /api/')
  assert.equal(find(t, '/api/x.json'), 'api-json', 'nested regex before outer regex')
  assert.equal(find(t, '/api/exact'), 'api-exact')
  assert.equal(find(t, '/plain'), undefined)
  const noOuterRegex = table([['/api/', 'api', [['/api/v2/', 'v2'], ['~ \\.json$', 'api-json']]], ['~ \\.xml$', 'xml']])
  assert.equal(find(noOuterRegex, '/api/v2/x'), 'v2', 'the deepest prefix when no regex matches')
  assert.equal(find(noOuterRegex, '/api/y'), 'api', 'no nested match: the outer prefix')
  assert.equal(find(noOuterRegex, '/api/v2/a.xml'), 'xml')
})

test('nested under ^~: the outer regexes are skipped, the nested ones are not', () => {
  const t = table([
    ['^~ /s/', 's', [['~ \\.css$', 's-css'], ['/s/deep/', 'deep']]],
    ['~ \\.css$', 'css'],
    ['~ \\.js$', 'js'],
  ])
  assert.equal(find(t, '/s/a.css'), 's-css')
  assert.equal(find(t, '/s/a.js'), 's')
  // The deepest prefix is plain, but the outer level's regexes belong to the ^~ choice: skipped.
  assert.equal(find(t, '/s/deep/a.js'), 'deep')
})

test('locations nested in a regex location are searched once the regex matched', () => {
  const t = table([['~ ^/img/', 'img', [['~ \\.png$', 'png']]], ['/', 'root']])
  assert.equal(find(t, '/img/a.png'), 'png')
  assert.equal(find(t, '/img/a.gif'), 'img')
})

test('auto redirect: a forwarding "/x/" location answers /x with a 301, unless something equal to /x exists', () => {
  const t = table([['/', 'root'], ['/api/', 'api', undefined, true], ['/b/', 'b', undefined, false]])
  assert.equal(find(t, '/api'), 'redirect:api')
  assert.equal(find(t, '/api/'), 'api')
  assert.equal(find(t, '/b'), 'root')
  const exact = table([['/api/', 'api', undefined, true], ['= /api', 'exact']])
  assert.equal(find(exact, '/api'), 'exact')
  const prefix = table([['/api/', 'api', undefined, true], ['/api', 'prefix']])
  assert.equal(find(prefix, '/api'), 'prefix')
  const regex = table([['/api/', 'api', undefined, true], ['~ api', 'regex']])
  assert.equal(find(regex, '/api'), 'redirect:api', 'the redirect stops the search before regexes')
})

test('parseLocation reads the modifier with or without a space', () => {
  assert.deepEqual(parseLocation('~*\\.png$'), { kind: 'regex-i', text: '\\.png$' })
  assert.deepEqual(parseLocation('^~/s/'), { kind: 'noregex', text: '/s/' })
  assert.deepEqual(parseLocation('= /'), { kind: 'exact', text: '/' })
  assert.deepEqual(parseLocation('/x'), { kind: 'prefix', text: '/x' })
  assert.ok('error' in parseLocation('@named'))
  assert.ok('error' in parseLocation('= '))
  assert.ok('error' in parseLocation('/a b'))
})

test('server_name: exact, then longest leading wildcard, then longest trailing wildcard, then regexes in order', () => {
  const servers = new ServerTable([
    { names: ['default.test'], isDefault: false, value: 'first' },
    { names: ['example.com', 'www.example.com'], isDefault: false, value: 'exact' },
    { names: ['*.example.com'], isDefault: false, value: 'head-short' },
    { names: ['*.api.example.com'], isDefault: false, value: 'head-long' },
    { names: ['www.example.*'], isDefault: false, value: 'tail-short' },
    { names: ['www.example.co.*'], isDefault: false, value: 'tail-long' },
    { names: ['~^api\\d+\\.example\\.org$', '~^www\\.'], isDefault: false, value: 'regex' },
    { names: ['~^www\\.ex'], isDefault: false, value: 'regex-later' },
    { names: ['.both.net'], isDefault: true, value: 'both' },
  ])
  assert.equal(servers.select('example.com'), 'exact')
  assert.equal(servers.select('www.example.com'), 'exact', 'exact beats *.example.com and www.example.*')
  assert.equal(servers.select('a.example.com'), 'head-short')
  assert.equal(servers.select('x.api.example.com'), 'head-long')
  assert.equal(servers.select('www.example.org'), 'tail-short', 'trailing wildcard after leading ones')
  assert.equal(servers.select('www.example.co.uk'), 'tail-long')
  assert.equal(servers.select('api7.example.org'), 'regex')
  assert.equal(servers.select('www.exotic.io'), 'regex', 'first regex in order')
  assert.equal(servers.select('both.net'), 'both')
  assert.equal(servers.select('a.b.both.net'), 'both')
  assert.equal(servers.select('unknown.test'), 'both', 'default: true wins over first')
  assert.equal(servers.select(''), 'both')
})

test('without default: true the first virtual host is the default; "" names the Host-less server', () => {
  const servers = new ServerTable([
    { names: ['a.test'], isDefault: false, value: 'a' },
    { names: [''], isDefault: false, value: 'nohost' },
  ])
  assert.equal(servers.select('zzz'), 'a')
  assert.equal(servers.select(''), 'nohost')
})

test('parseServerName refuses wildcards in the middle and bad regexes', () => {
  assert.ok('error' in parseServerName('www.*.com'))
  assert.ok('error' in parseServerName('~(unclosed'))
  assert.deepEqual(parseServerName('WWW.Example.COM'), { kind: 'exact', text: 'www.example.com' })
})

test('validHost: lower-cased, port and trailing dot dropped; nginx\'s 400 cases refused', () => {
  assert.equal(validHost('Example.COM:8080'), 'example.com')
  assert.equal(validHost('example.com.'), 'example.com')
  assert.equal(validHost('[::1]:80'), '[::1]')
  assert.equal(validHost(undefined), '')
  assert.equal(validHost('a..b'), undefined)
  assert.equal(validHost('a/b'), undefined)
  assert.equal(validHost(''), undefined)
})
