import { test } from 'node:test'
import assert from 'node:assert/strict'
import { groupSummary, renderStatus, unhealthyGroups, type StatusView } from './status.ts'
import { colourEnabled, painter } from '../colour.ts'

const NOW = Date.parse('2025-06-01T12:00:10Z')
const at = (secondsAgo: number): string => new Date(NOW - secondsAgo * 1000).toISOString()
const hc = { protocol: 'http', path: '/health', port: 'traffic-port', interval: 5000, timeout: 2000, healthyThreshold: 3, unhealthyThreshold: 2, matcher: '200' }

const doc: StatusView = {
  version: '0.1.0', pid: 42, uptimeSeconds: 75, configFile: '/etc/fulcrum.yaml',
  listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:8080', port: 8080 }, { name: 'test', protocol: 'http', listen: '0', port: 40123 }],
  targetGroups: [
    {
      name: 'app', algorithm: 'round-robin', used: true, healthCheck: hc, failOpen: true, deregistrationDelayMs: 30000,
      targets: [
        { address: '127.0.0.1:8081', weight: 1, source: 'file', state: 'healthy', reason: '3 checks passed in a row (status 200)', inFlight: 2, drainingUntil: null, lastCheck: { ok: true, detail: 'status 200', latencyMs: 1.4, at: at(3) } },
        { address: '127.0.0.1:8082', weight: 2, source: 'api', state: 'unhealthy', reason: '2 checks failed in a row (status 500)', inFlight: 0, drainingUntil: null, lastCheck: { ok: false, detail: 'status 500', latencyMs: 2, at: at(1) } },
      ],
    },
    { name: 'spare', algorithm: 'least-conn', used: false, healthCheck: null, failOpen: false, targets: [{ address: '127.0.0.1:9000', weight: 1, source: 'file', state: 'unused', reason: 'no route forwards to this target group', inFlight: 0, drainingUntil: null, lastCheck: null }] },
    { name: 'down', algorithm: 'round-robin', used: true, healthCheck: { ...hc, protocol: 'tcp' }, targets: [{ address: '127.0.0.1:9001', weight: 1, source: 'file', state: 'initial', reason: 'registered; awaiting health checks', inFlight: 0, drainingUntil: null, lastCheck: null }] },
  ],
  transitions: [
    { group: 'app', address: '127.0.0.1:8082', from: 'initial', to: 'initial', reason: 'registered; awaiting health checks', at: at(9) },
    { group: 'app', address: '127.0.0.1:8082', from: 'healthy', to: 'unhealthy', reason: '2 checks failed in a row (status 500)', at: at(1) },
  ],
}

test('the text view: listeners, groups, a target table with reasons, the last transitions', () => {
  const lines = renderStatus(doc, painter(false), NOW).split('\n')
  const clock = (s: number): string => { const d = new Date(NOW - s * 1000); return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':') }
  assert.deepEqual(lines, [
    'fulcrum 0.1.0, pid 42, up 75s, config /etc/fulcrum.yaml',
    '',
    'listener web: http on 127.0.0.1:8080',
    'listener test: http on 0 (port 40123)',
    'target group app: round-robin, health check http /health every 5s (healthy after 3, unhealthy after 2), 2 targets',
    'target group spare: least-conn, no health check, no fail open, unused: no route forwards to it, 1 target',
    'target group down: round-robin, health check tcp connect every 5s (healthy after 3, unhealthy after 2), 1 target',
    '',
    'GROUP  TARGET          STATE      WEIGHT  IN FLIGHT  LAST CHECK                         REASON',
    'app    127.0.0.1:8081  healthy    1       2          ok: status 200 in 1ms, 3s ago      3 checks passed in a row (status 200)',
    'app    127.0.0.1:8082  unhealthy  2       0          failed: status 500 in 2ms, 1s ago  2 checks failed in a row (status 500)',
    'spare  127.0.0.1:9000  unused     1       0          no health check                    no route forwards to this target group',
    'down   127.0.0.1:9001  initial    1       0          -                                  registered; awaiting health checks',
    '',
    'last transitions:',
    `  ${clock(9)} (9s ago)  app 127.0.0.1:8082  new, initial          registered; awaiting health checks`,
    `  ${clock(1)} (1s ago)  app 127.0.0.1:8082  healthy -> unhealthy  2 checks failed in a row (status 500)`,
  ])
})

test('exit status: only used groups need a healthy target', () => {
  assert.deepEqual(unhealthyGroups(doc.targetGroups), ['down'])
})

test('state words are coloured when colour is on, and the columns still line up', () => {
  const text = renderStatus(doc, painter(true), NOW)
  assert.match(text, /\x1b\[32mhealthy\x1b\[39m {4}1/)
  assert.match(text, /\x1b\[31munhealthy\x1b\[39m  2/)
  assert.match(text, /\x1b\[34minitial\x1b\[39m/)
  assert.match(text, /\x1b\[90munused\x1b\[39m/)
  const plain = text.replace(/\x1b\[\d+m/g, '')
  assert.equal(plain, renderStatus(doc, painter(false), NOW))
})

test('colour: NO_COLOR wins, FORCE_COLOR forces, else only a terminal', () => {
  assert.equal(colourEnabled({ isTTY: true }, {}), true)
  assert.equal(colourEnabled({ isTTY: false }, {}), false)
  assert.equal(colourEnabled({ isTTY: true }, { TERM: 'dumb' }), false)
  assert.equal(colourEnabled({ isTTY: false }, { FORCE_COLOR: '1' }), true)
  assert.equal(colourEnabled({ isTTY: true }, { FORCE_COLOR: '0' }), false)
  assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '1' }), false)
  assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '1', FORCE_COLOR: '1' }), false)
  assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '' }), true)
})

test('a group summary names the check port and matcher when they are not the defaults', () => {
  assert.equal(groupSummary({ name: 'x', used: true, healthCheck: { ...hc, port: 9100, matcher: '200-299' }, targets: [] }),
    'health check http /health expecting 200-299 on port 9100 every 5s (healthy after 3, unhealthy after 2), 0 targets')
})
