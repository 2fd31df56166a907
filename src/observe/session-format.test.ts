import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SessionRecord } from './observer.ts'
import { compileSessionFormat } from './session-format.ts'

const record: SessionRecord = {
  listener: 'edge', targetGroup: 'app', target: '10.0.0.7:9000', outcome: 'closed', bytesFromClient: 120, bytesToClient: 4096,
  protocol: 'TCP', clientIp: '203.0.113.9', clientPort: 50123, serverPort: 9000, serverName: '', startedAt: 1_000, endedAt: 3_500,
}
const wall = Date.UTC(2026, 10, 22, 3, 4, 5)

test('the stream format: nginx stream variables, $status from how the session ended', () => {
  const { format, problems } = compileSessionFormat('stream')
  assert.deepEqual(problems, [])
  assert.match(format(record, record.endedAt, wall), /^203\.0\.113\.9 \[22\/Nov\/2026:\d\d:04:05 [+-]\d{4}\] TCP 200 4096 120 2\.500 "10\.0\.0\.7:9000"\n$/)
  const refused = { ...record, outcome: 'connect-failed' as const, target: '', bytesToClient: 0, bytesFromClient: 0 }
  assert.match(format(refused, record.endedAt, wall), / TCP 502 0 0 2\.500 "-"\n$/)
  assert.match(format({ ...record, outcome: 'denied' }, record.endedAt, wall), / TCP 403 /)
  assert.match(format({ ...record, outcome: 'limited', protocol: 'UDP' }, record.endedAt, wall), / UDP 503 /)
})

test('templates, escaping, json, and unknown variables named', () => {
  const t = compileSessionFormat('$remote_addr:$remote_port $ssl_preread_server_name $listener/$target_group $session_outcome $upstream_bytes_sent')
  assert.deepEqual(t.problems, [])
  assert.equal(t.format({ ...record, serverName: 'a"b.example' }, 0, wall), '203.0.113.9:50123 a\\x22b.example edge/app closed 120\n')
  assert.equal(t.format({ ...record, serverName: '' }, 0, wall), '203.0.113.9:50123 - edge/app closed 120\n')
  const json = JSON.parse(compileSessionFormat('json').format(record, 0, wall)) as Record<string, unknown>
  assert.deepEqual([json.client, json.status, json.bytes_sent, json.bytes_received, json.duration_ms, json.upstream], ['203.0.113.9', 200, 4096, 120, 2500, '10.0.0.7:9000'])
  const bad = compileSessionFormat('$remote_addr $request')
  assert.match(bad.problems[0], /^unknown variable \$request \(known in stream logs: \$remote_addr, /)
  assert.equal(bad.format(record, 0, wall), '203.0.113.9 -\n')
})
