import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfigText } from '../config/load.ts'
import { explainRequest, parseRequest, type Explanation } from './explain-request.ts'

/** nginx's documentation example of location selection, plus wildcard, regex and default servers. */
const VHOSTS = `
listeners:
  - name: web
    protocol: http
    listen: 8080
    virtualHosts:
      - names: [example.com, www.example.com]
        locations:
          - { location: "= /", respond: { body: A } }
          - { location: "/", respond: { body: B } }
          - { location: "/documents/", respond: { body: C } }
          - { location: "^~ /images/", respond: { body: D } }
          - { location: "~* \\\\.(gif|jpg|jpeg)$", respond: { body: E } }
      - names: ["*.example.org"]
        locations:
          - location: /api/
            forward: api
            access: [{ deny: 10.0.0.0/8 }]
            locations: [{ location: "~ \\\\.php$", respond: { body: php } }]
      - names: ["~^(?<user>.+)\\\\.example\\\\.net$"]
        default: true
        locations: [{ location: /, respond: { body: net } }]
targetGroups:
  api: { targets: [127.0.0.1:8081] }
`

function explain(url: string, client?: string): Explanation {
  const loaded = parseConfigText(VHOSTS, '/etc/fulcrum.yaml')
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems))
  const req = parseRequest(`GET ${url}`, [], client)
  assert.ok(!('error' in req))
  const e = explainRequest(loaded.config, req, undefined)
  assert.ok(!('error' in e), JSON.stringify(e))
  assert.deepEqual(e.notes, [])
  return e
}

const lines = (e: Explanation): string[] => e.routes.map((v) => `${v.label}${v.matched ? ' *' : ''}: ${v.reasons.join('; ')}`)

test('locations as nginx documents them: exact, longest prefix, ^~, the first regex', () => {
  assert.deepEqual(lines(explain('http://example.com:8080/')), [
    'location = / *: = / is the URI',
    'location /: prefix / matches, but = / is exact',
    'location /documents/: prefix /documents/ does not match /',
    'location ^~ /images/: prefix /images/ does not match /',
    'location ~* \\.(gif|jpg|jpeg)$: not tried: an exact location matched',
  ])
  assert.equal(explain('http://www.example.com:8080/index.html').route?.label, 'location /')
  assert.equal(explain('http://example.com:8080/documents/document.html').route?.label, 'location /documents/')
  const images = explain('http://example.com:8080/images/1.gif')
  assert.deepEqual(lines(images).slice(3), [
    'location ^~ /images/ *: the longest matching prefix (^~: no regular expression is tried)',
    'location ~* \\.(gif|jpg|jpeg)$: not tried: ^~ /images/ stops the regex search',
  ])
  const jpg = explain('http://example.com:8080/documents/1.jpg')
  assert.deepEqual(lines(jpg).slice(2), [
    'location /documents/: the longest matching prefix; but ~* \\.(gif|jpg|jpeg)$ matched',
    'location ^~ /images/: prefix /images/ does not match /documents/1.jpg',
    'location ~* \\.(gif|jpg|jpeg)$ *: ~* \\.(gif|jpg|jpeg)$ matches /documents/1.jpg, the first regular expression that does',
  ])
  assert.equal(jpg.outcome, 'respond 200 (1 bytes)')
  assert.equal(jpg.server?.how, 'server_name example.com is the Host example.com')
})

test('servers: leading wildcard, regex, default; nested locations, access, the auto redirect, a bad URI', () => {
  const php = explain('http://a.example.org:8080/api/x.php', '10.1.2.3')
  assert.equal(php.server?.how, 'server_name *.example.org: the longest leading wildcard matching a.example.org')
  assert.deepEqual(lines(php), [
    'location /api/: the longest matching prefix; a location nested in it matched',
    'location /api/ > ~ \\.php$ *: ~ \\.php$ matches /api/x.php, the first regular expression that does',
  ])
  assert.equal(php.outcome, '403: the access rules deny the client 10.1.2.3')
  const api = explain('http://a.example.org:8080/api/x', '192.0.2.1')
  assert.deepEqual([api.outcome, api.target], ['forward to target group api', '127.0.0.1:8081'])
  assert.equal(explain('http://a.example.org:8080/api').outcome, "redirect 301 to /api/ (nginx's auto redirect to the forwarding location /api/)")
  assert.equal(explain('http://bob.example.net:8080/x').server?.how, 'server_name ~^(?<user>.+)\\.example\\.net$: the first regular expression matching bob.example.net')
  const other = explain('http://other:8080/a/../../b')
  assert.equal(other.server?.how, 'no server_name matches other: the default server (default: true)')
  assert.equal(other.outcome, '400: the path has a bad escape, a control byte, or climbs above /')
  assert.equal(explain('http://other:8080/a/../x').uri, '/x')
})
