/** Validation of the nginx-feature keys, through the loader, so that lines and key paths are checked too. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatProblem, parseConfigText } from '../../src/config/load.ts'

function problems(yaml: string): string[] {
  const result = parseConfigText(yaml, 'f.yaml')
  return result.ok ? [] : result.problems.map(formatProblem)
}

function warnings(yaml: string): string[] {
  const result = parseConfigText(yaml, 'f.yaml')
  if (!result.ok) assert.fail(result.problems.map(formatProblem).join('\n'))
  return result.warnings
}

test('a valid file with every key loads', () => {
  const yaml = `listeners:
  - name: web
    protocol: http
    listen: 8080
    errorPages: nginx
    access: [{ allow: 10.0.0.0/8 }, { allow: "::1" }, { deny: all }]
    maxBodyBytes: 1048576
    virtualHosts:
      - names: [example.com, "*.example.com", "www.example.*", "~^api\\\\d+\\\\.example\\\\.com$"]
        default: true
        maxBodyBytes: 0
        locations:
          - { location: "= /exact", respond: { status: 200, body: "x $host" } }
          - { location: "^~ /static/", forward: static }
          - { location: "~* \\\\.(css|js)$", forward: static }
          - location: /api/
            forward: app
            proxy: { host: backend, setHeaders: { Host: $host, X-Real-IP: $remote_addr }, replacePrefix: { prefix: /api/, with: /v1/ } }
            locations:
              - { location: /api/admin/, forward: app, access: [{ allow: 127.0.0.1 }, { deny: all }] }
          - location: /
            forward: app
            addHeaders: [{ name: X-Frame-Options, value: DENY }, { name: X-Host, value: "\${host}", always: true }]
          - { location: /old, redirect: { location: "https://$host$request_uri", status: 301 } }
targetGroups:
  app: { algorithm: hash, hashKey: "$remote_addr$http_x_user", targets: [127.0.0.1:8081] }
  static: { targets: [127.0.0.1:8082] }
`
  assert.deepEqual(warnings(yaml), [])
})

test('unknown variables, bad CIDRs, bad locations and regexes are reported with their place', () => {
  const yaml = `listeners:
  - name: web
    protocol: http
    listen: 8080
    access: [{ allow: 10.0.0.0/33 }]
    virtualHosts:
      - names: ["www.*.com"]
        locations:
          - { location: "@named", respond: { body: x } }
          - { location: "~ (unclosed", respond: { body: x } }
          - { location: "~ ^/re/", forward: app, proxy: { replacePrefix: { prefix: /re/, with: /v1/ } } }
          - { location: /p/, forward: app, proxy: { replacePrefix: { prefix: /q/, with: /v1/ } } }
          - { location: /t/, respond: { body: "$hots" }, addHeaders: [{ name: X, value: "\${remote_addr" }] }
          - { location: /t/, respond: { body: x } }
          - location: /n/
            locations: [{ location: /elsewhere/, respond: { body: x } }]
          - { location: /none/ }
          - { location: /both/, respond: { body: x }, redirect: { location: /x } }
targetGroups:
  app: { algorithm: hash, hashKey: "$nope", targets: [127.0.0.1:8081] }
`
  assert.deepEqual(problems(yaml), [
    'f.yaml:5:23 listeners[0].access[0].allow: "10.0.0.0/33": the prefix length must be 0 to 32',
    'f.yaml:7:17 listeners[0].virtualHosts[0].names[0]: "www.*.com": a wildcard is "*" as the first label ("*.example.com") or the last ("www.example.*"); use "~regex" otherwise',
    'f.yaml:9:25 listeners[0].virtualHosts[0].locations[0].location: named locations ("@named") are not supported; only =, ^~, ~, ~* and prefix locations; write "= /exact", "^~ /prefix", "~ regex", "~* regex" or "/prefix"',
    'f.yaml:10:25 listeners[0].virtualHosts[0].locations[1].location: the regular expression "(unclosed" does not compile: /(unclosed/: Unterminated group',
    'f.yaml:11:74 listeners[0].virtualHosts[0].locations[2].proxy.replacePrefix: a regular-expression location cannot replace a prefix (nginx: "proxy_pass" cannot have URI part in location given by regular expression)',
    'f.yaml:12:78 listeners[0].virtualHosts[0].locations[3].proxy.replacePrefix.prefix: the prefix to replace must be the location\'s path "/p/", found "/q/"',
    'f.yaml:13:47 listeners[0].virtualHosts[0].locations[4].respond.body: unknown variable "$hots"; known: $host, $http_host, $remote_addr, $remote_port, $scheme, $server_port, $server_name, $server_protocol, $request_uri, $uri, $document_uri, $args, $query_string, $is_args, $request_method, $content_length, $content_type, $proxy_host, $proxy_add_x_forwarded_for, $http_NAME, $cookie_NAME, $arg_NAME',
    'f.yaml:13:89 listeners[0].virtualHosts[0].locations[4].addHeaders[0].value: "${" at position 1 has no closing "}"',
    'f.yaml:14:25 listeners[0].virtualHosts[0].locations[5].location: duplicate location "/t/" (also locations[4]); nginx refuses it too',
    'f.yaml:16:37 listeners[0].virtualHosts[0].locations[6].locations[0].location: location "/elsewhere/" is outside location "/n/"; a nested path must start with its parent\'s',
    'f.yaml:17:13 listeners[0].virtualHosts[0].locations[7]: a location needs exactly one of forward, redirect, respond (or only nested locations); found none',
    'f.yaml:18:13 listeners[0].virtualHosts[0].locations[8]: a location needs exactly one of forward, redirect, respond (or only nested locations); found redirect and respond',
    'f.yaml:20:36 targetGroups.app.hashKey: unknown variable "$nope"; known: $host, $http_host, $remote_addr, $remote_port, $scheme, $server_port, $server_name, $server_protocol, $request_uri, $uri, $document_uri, $args, $query_string, $is_args, $request_method, $content_length, $content_type, $proxy_host, $proxy_add_x_forwarded_for, $http_NAME, $cookie_NAME, $arg_NAME',
  ])
})

test('routes and virtualHosts on one listener, two defaults, a missing group in a location; conflicting names warn', () => {
  const yaml = `listeners:
  - name: web
    protocol: http
    listen: 8080
    routes: [{ forward: app }]
    virtualHosts:
      - { names: [a.test], default: true, locations: [{ location: /, forward: apx }] }
      - { names: [a.test], default: true, locations: [{ location: /, forward: app }] }
targetGroups:
  app: { targets: [127.0.0.1:8081] }
`
  assert.deepEqual(problems(yaml), [
    'f.yaml:6:5 listeners[0].virtualHosts: a listener has either routes or virtualHosts, not both; move the routes into a virtual host\'s locations, or use a second listener',
    'f.yaml:7:79 listeners[0].virtualHosts[0].locations[0].forward: target group "apx" does not exist; did you mean "app"? (defined: app)',
    'f.yaml:8:37 listeners[0].virtualHosts[1].default: virtualHosts[0] is already the default; a listener has one default virtual host (nginx: duplicate default server)',
  ])
  const ok = `listeners:
  - name: web
    protocol: http
    listen: 8080
    virtualHosts:
      - { names: [a.test], locations: [{ location: /, forward: app }] }
      - { names: [A.test], locations: [{ location: /, forward: app }] }
targetGroups:
  app: { targets: [127.0.0.1:8081] }
`
  assert.deepEqual(warnings(ok), [
    'f.yaml:7:19 listeners[0].virtualHosts[1].names[0]: "A.test" is also a name of virtualHosts[0], which takes its requests (nginx: conflicting server name)',
  ])
})

test('proxy on a route that does not forward is refused', () => {
  const yaml = `listeners:
  - { name: web, protocol: http, listen: 8080, routes: [{ respond: { body: x }, proxy: { setHeaders: {} } }] }
`
  assert.deepEqual(problems(yaml), [
    'f.yaml:2:81 listeners[0].routes[0].proxy: proxy shapes forwarded requests only, and this one does not forward; remove proxy or add forward',
  ])
})
