import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HashRing, hash32 } from './hash-ring.ts'
import { ipHash } from './ip-hash.ts'
import { addresses, request, targets } from './testing.ts'

test('one client keeps one target; the whole address is hashed', () => {
  const ts = targets(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'])
  const ring = new HashRing(ts)
  const ih = ipHash(ts, {})
  for (let i = 0; i < 100; i++) {
    const ip = `192.0.2.${i}`
    const home = ih.pick(ts, request({ clientIp: ip }))
    assert.equal(home, ring.pick(ts, hash32(ip)))
    for (let j = 0; j < 10; j++) assert.equal(ih.pick(ts, request({ clientIp: ip })), home)
  }
  assert.equal(ih.pick(ts, request({ clientIp: '2001:db8::1' })), ring.pick(ts, hash32('2001:db8::1')))
})

test('a client with no address falls back to smooth round robin', () => {
  const ts = targets(['a', 'b', 'c'])
  const ih = ipHash(ts, {})
  assert.deepEqual(addresses(() => ih.pick(ts, request({ clientIp: '' })), 6), [...'abcabc'])
})
