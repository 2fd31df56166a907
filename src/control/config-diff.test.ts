import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfigText } from '../config/load.ts'
import type { Config } from '../config/schema.ts'
import { changeLine, diffSnapshots, reloadChanges, snapshotOf, type Snapshot } from './config-diff.ts'

function config(text: string): Config {
  const loaded = parseConfigText(text, '/etc/fulcrum.yaml')
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems))
  return loaded.config
}

const BEFORE = `
listeners:
  - { name: web, protocol: http, listen: 8080, routes: [{ match: { path: /api/ }, forward: api }, { forward: app }] }
  - { name: old, protocol: http, listen: 8081, routes: [{ forward: app }] }
targetGroups:
  app: { targets: [127.0.0.1:9001, 127.0.0.1:9002], healthCheck: { path: /health, interval: 5s, timeout: 2s } }
  api: { targets: [127.0.0.1:9101] }
  gone: { targets: [127.0.0.1:9201] }
`
const AFTER = `
listeners:
  - { name: web, protocol: http, listen: 8080, routes: [{ match: { path: /ping }, respond: { body: pong } }, { match: { path: /api/ }, forward: api }, { forward: { app: 9, api: 1 } }] }
  - { name: new, protocol: http, listen: 8082, forwardedHeaders: false, routes: [{ forward: app }] }
targetGroups:
  app: { algorithm: least-conn, targets: [127.0.0.1:9001, { address: 127.0.0.1:9002, weight: 3, maxConns: 10 }, 127.0.0.1:9003], healthCheck: { path: /health, interval: 10s, timeout: 2s } }
  api: { targets: [127.0.0.1:9101], deregistrationDelay: 5s }
`

test('listeners, routes (aligned by content), groups and targets added, removed and changed', () => {
  const lines = diffSnapshots(snapshotOf(config(BEFORE)), snapshotOf(config(AFTER))).map(changeLine)
  assert.deepEqual(lines, [
    '- listener old (http on 8081, 1 route)',
    '~ listener web: routes 2 -> 3',
    '+ listener web route 0 (path /ping -> respond 200 "pong")',
    '~ listener web route 2 (was 1): any request -> forward app => any request -> forward app 9, api 1',
    '+ listener new (http on 8082, 1 route)',
    '- target group gone (round-robin, 1 target)',
    '~ target group app: algorithm round-robin -> least-conn; healthCheck.interval 5s -> 10s',
    '~ target app/127.0.0.1:9002: weight 1 -> 3; maxConns 0 -> 10',
    '+ target app/127.0.0.1:9003 (weight 1)',
    '~ target group api: deregistrationDelay 30s -> 5s',
  ])
})

test('the same configuration: no change', () => {
  assert.deepEqual(diffSnapshots(snapshotOf(config(BEFORE)), snapshotOf(config(BEFORE))), [])
})

test('a partial side (the status API) is compared only on what it knows', () => {
  const full = snapshotOf(config(AFTER))
  const partial: Snapshot = {
    listeners: new Map([['web', { fields: { protocol: 'http', listen: '8080' }, complete: false, routes: undefined }]]),
    groups: new Map([['app', { fields: { algorithm: 'least-conn' }, complete: false, targets: new Map([['127.0.0.1:9001', { weight: 2 }], ['127.0.0.1:9002', { weight: 3 }], ['127.0.0.1:9003', { weight: 1 }]]) }]]),
  }
  assert.deepEqual(diffSnapshots(partial, full).map(changeLine), [
    '+ listener new (http on 8082, 1 route)',
    '~ target group app: targets changed',
    '~ target app/127.0.0.1:9001: weight 2 -> 1',
    '+ target group api (round-robin, 1 target)',
  ])
})

test('the reload log: names of listeners and targets changed, and every change as a line', () => {
  const r = reloadChanges(config(BEFORE), config(AFTER))
  assert.deepEqual(r.listenersChanged, ['web'])
  assert.deepEqual(r.targetsChanged, ['app/127.0.0.1:9002'])
  assert.equal(r.changes.length, 10)
})
