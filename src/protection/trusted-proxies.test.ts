import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TrustPolicy } from './trusted-proxies.ts'
import { accessRulesOf } from './access-lists.ts'
import { AccessList } from '../targets/access.ts'

test('X-Forwarded-For is believed only from trusted peers, read right to left past trusted proxies', () => {
  const trust = new TrustPolicy(['10.0.0.0/8', '2001:db8::/32'])
  assert.equal(trust.client('203.0.113.9', '1.2.3.4'), '203.0.113.9', 'an untrusted peer is the client')
  assert.equal(trust.client('10.0.0.2', '1.2.3.4'), '1.2.3.4')
  assert.equal(trust.client('10.0.0.2', 'spoofed, 1.2.3.4, 10.0.0.7'), '1.2.3.4')
  assert.equal(trust.client('::ffff:10.0.0.2', '198.51.100.1:4431'), '198.51.100.1')
  assert.equal(trust.client('2001:db8::5', '[2001:db8::9]:443, 2001:db9::1'), '2001:db9::1')
  assert.equal(trust.client('10.0.0.2', '10.0.0.3, 10.0.0.4'), '10.0.0.3', 'all trusted: the leftmost')
  assert.equal(trust.client('10.0.0.2', 'garbage, 10.0.0.3'), '10.0.0.3', 'a malformed entry stops the walk')
  assert.equal(trust.client('10.0.0.2', undefined), '10.0.0.2')
})

test('allow/deny lists: deny first, then allow, then the rest denied when there is an allow list', () => {
  const list = (level: Parameters<typeof accessRulesOf>[0]) => new AccessList(accessRulesOf(level) ?? [])
  const sg = list({ allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.0.0.66'] })
  assert.deepEqual(['10.1.2.3', '10.0.0.66', '192.0.2.1', '2001:db8::1', '::1'].map((ip) => sg.allows(ip)), [true, false, false, true, false])
  const blocklist = list({ deny: ['192.0.2.0/24'] })
  assert.deepEqual(['192.0.2.9', '198.51.100.1'].map((ip) => blocklist.allows(ip)), [false, true])
  assert.equal(accessRulesOf({}), undefined)
})
