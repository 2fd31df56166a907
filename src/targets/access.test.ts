import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AccessList, parseIpv4, parseIpv6, parseRule } from './access.ts'

const list = (...rules: Array<{ allow: string } | { deny: string }>) => new AccessList(rules)

test('IPv4 CIDRs: first match decides, no match allows', () => {
  const acl = list({ deny: '192.168.1.1' }, { allow: '192.168.1.0/24' }, { allow: '10.1.1.0/16' }, { deny: 'all' })
  assert.equal(acl.allows('192.168.1.1'), false)
  assert.equal(acl.allows('192.168.1.2'), true)
  assert.equal(acl.allows('10.1.200.3'), true, '10.1.1.0/16 is masked to 10.1.0.0/16')
  assert.equal(acl.allows('10.2.0.1'), false)
  assert.equal(list({ deny: '10.0.0.0/8' }).allows('11.0.0.1'), true)
  assert.equal(list().allows('1.2.3.4'), true)
  assert.equal(list({ allow: '0.0.0.0/0' }, { deny: 'all' }).allows('255.255.255.255'), true)
})

test('IPv6 CIDRs, including prefixes that cut inside a word', () => {
  const acl = list({ allow: '2001:db8::/32' }, { allow: '::1' }, { allow: 'fe80:0:0:0:abcd::/68' }, { deny: 'all' })
  assert.equal(acl.allows('2001:db8:ffff::1'), true)
  assert.equal(acl.allows('2001:db9::1'), false)
  assert.equal(acl.allows('::1'), true)
  assert.equal(acl.allows('::2'), false)
  assert.equal(acl.allows('fe80::abcd:0fff:1:2'), true)
  assert.equal(acl.allows('fe80::abcd:1fff:1:2'), true)
  assert.equal(acl.allows('fe80::bbcd:0:1:2'), false, 'the 65th bit differs')
})

test('IPv4-mapped IPv6 clients are compared as IPv4; families do not mix otherwise', () => {
  const acl = list({ allow: '127.0.0.1' }, { deny: 'all' })
  assert.equal(acl.allows('::ffff:127.0.0.1'), true)
  assert.equal(acl.allows('::1'), false)
  assert.equal(list({ deny: '::/0' }).allows('10.0.0.1'), true, 'an IPv6 rule never matches an IPv4 client')
  assert.equal(list({ deny: '0.0.0.0/0' }).allows('::1'), true)
  // nginx would never match a mapped rule (its clients are compared as IPv4); we read it as the IPv4 rule it means.
  assert.equal(list({ allow: '::ffff:10.0.0.0/104' }, { deny: 'all' }).allows('10.9.9.9'), true)
  assert.equal(list({ allow: '::ffff:10.0.0.0/104' }, { deny: 'all' }).allows('11.0.0.1'), false)
})

test('address parsers', () => {
  assert.equal(parseIpv4('1.2.3.4'), 0x01020304)
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff)
  for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '']) assert.equal(parseIpv4(bad), -1, bad)
  const w = [0, 0, 0, 0]
  assert.ok(parseIpv6('2001:db8::8:800:200c:417a', w))
  assert.deepEqual(w, [0x20010db8, 0, 0x00080800, 0x200c417a])
  assert.ok(parseIpv6('::', w))
  assert.deepEqual(w, [0, 0, 0, 0])
  assert.ok(parseIpv6('::ffff:10.0.0.1', w))
  assert.deepEqual(w, [0, 0, 0xffff, 0x0a000001])
  assert.ok(parseIpv6('fe80::1%eth0', w))
  for (const bad of ['1:2:3', ':::', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7:8:9', '1:']) assert.equal(parseIpv6(bad, w), false, bad)
})

test('bad rules are reported', () => {
  assert.ok('error' in parseRule(true, '10.0.0.0/33'))
  assert.ok('error' in parseRule(true, '10.0.0/8'))
  assert.ok('error' in parseRule(true, '::1/129'))
  assert.ok('error' in parseRule(false, 'any'))
  assert.ok(!('error' in parseRule(false, 'all')))
})
