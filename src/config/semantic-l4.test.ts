// Checks of the L4 listeners, through the loader so positions are checked too.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatProblem, parseConfigText } from './load.ts'

function problems(yaml: string): string[] {
  const result = parseConfigText(yaml, 'f.yaml')
  return result.ok ? [] : result.problems.map(formatProblem)
}

test('a tcp listener forwarding to a group that does not exist suggests the closest', () => {
  assert.deepEqual(problems(`listeners:
  - { name: edge, protocol: tcp, listen: 9000, forward: ap }
targetGroups:
  app: { targets: [127.0.0.1:8081] }
`), ['f.yaml:2:57 listeners[0].forward: target group "ap" does not exist; did you mean "app"? (defined: app)'])
})

test('a group used by an L4 listener may not depend on HTTP', () => {
  assert.deepEqual(problems(`listeners:
  - { name: edge, protocol: tcp, listen: 9000, forward: app }
targetGroups:
  app:
    protocol: https
    algorithm: hash
    hashKey: header:x-user
    stickiness: { type: cookie }
    targets: [127.0.0.1:8081]
`), [
    'f.yaml:2:57 listeners[0].forward: target group "app" (used by a tcp listener) has protocol https, but a tcp listener relays bytes without speaking TLS to targets; remove protocol from the group, or use a tls-passthrough listener',
    'f.yaml:2:57 listeners[0].forward: target group "app" (used by a tcp listener) hashes on header:x-user, which an L4 listener does not see; use hashKey: client-ip',
    'f.yaml:2:57 listeners[0].forward: target group "app" (used by a tcp listener) has stickiness, which needs HTTP cookies; remove it, or use algorithm hash with hashKey: client-ip',
  ])
  // hash on the client address is what an L4 listener can do.
  assert.deepEqual(problems(`listeners:
  - { name: edge, protocol: tcp, listen: 9000, forward: app }
targetGroups:
  app: { algorithm: hash, hashKey: client-ip, targets: [127.0.0.1:8081] }
`), [])
})

test('tls-passthrough: SNI names must be names, and something must take the connections', () => {
  assert.deepEqual(problems(`listeners:
  - name: tls
    protocol: tls-passthrough
    listen: 8443
    routes:
      - { serverNames: [a.example.com, "a b", "*.ok.example.com", "x.*"], forward: app }
targetGroups:
  app: { targets: [127.0.0.1:8081] }
`), [
    'f.yaml:6:40 listeners[0].routes[0].serverNames[1]: "a b" is not a server name; write a name such as api.example.com, or *.example.com for every name below example.com',
    'f.yaml:6:67 listeners[0].routes[0].serverNames[3]: "x.*" is not a server name; write a name such as api.example.com, or *.example.com for every name below example.com',
  ])
  assert.deepEqual(problems(`listeners:
  - { name: tls, protocol: tls-passthrough, listen: 8443 }
`), ['f.yaml:2:5 listeners[0].routes: a tls-passthrough listener needs routes (SNI name -> forward) or a forward for every connection'])
})

test('UDP and TCP listeners may share a port number; two TCP listeners may not', () => {
  const groups = 'targetGroups:\n  app: { targets: [127.0.0.1:8081] }\n'
  assert.deepEqual(problems(`listeners:
  - { name: dns-tcp, protocol: tcp, listen: 5353, forward: app }
  - { name: dns-udp, protocol: udp, listen: 5353, forward: app }
${groups}`), [])
  assert.deepEqual(problems(`listeners:
  - { name: a, protocol: tcp, listen: 5353, forward: app }
  - { name: b, protocol: http, listen: 5353, routes: [{ forward: app }] }
${groups}`), ['f.yaml:3:40 listeners[1].listen: port 5353 is already used by listener a (line 2)'])
})

test('L4 listener fields have their own unknown-key list, and udp takes no PROXY protocol', () => {
  assert.deepEqual(problems(`listeners:
  - { name: dns, protocol: udp, listen: 5353, forward: app, proxyProtocol: v2 }
targetGroups:
  app: { targets: [127.0.0.1:8081] }
`), ['f.yaml:2:61 listeners[0].proxyProtocol: unknown key "proxyProtocol" (expected one of: protocol, name, listen, forward, idleTimeout, maxSessions, access, allow, deny, accessLog)'])
})
