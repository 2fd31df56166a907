import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RequestFacts } from './algorithm.ts'
import { HashRing, hash32 } from './hash-ring.ts'
import { cookieHash, hash } from './hash.ts'
import { addresses, request, targets } from './testing.ts'

const group = () => targets(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80'])

test('the same key reaches the same target, between other keys', () => {
  const ts = group()
  const h = hash(ts, { hashKey: 'header:x-user' })
  const home = h.pick(ts, request({ headers: { 'x-user': 'alice' } }))
  for (let i = 0; i < 200; i++) {
    h.pick(ts, request({ headers: { 'x-user': `other-${i}` } }))
    assert.equal(h.pick(ts, request({ headers: { 'x-user': 'alice' } })), home)
  }
})

test('each kind of key hashes exactly the value it names', () => {
  const ts = group()
  const ring = new HashRing(ts)
  const kinds: [string, (v: string) => RequestFacts][] = [
    ['header:X-User', (v) => request({ headers: { 'x-user': v } })],
    ['header:x-user', (v) => request({ headers: { 'x-user': [v, 'second'] } })],
    ['cookie:sid', (v) => request({ headers: { cookie: `theme=dark; sid=${v}; lang=en` } })],
    ['cookie:sid', (v) => request({ headers: { cookie: ['theme=dark', `sid="${v}"`] } })],
    ['path', (v) => request({ url: `${v}?page=2` })],
    ['client-ip', (v) => request({ clientIp: v })],
  ]
  for (const [hashKey, req] of kinds) {
    const h = hash(ts, { hashKey })
    for (let i = 0; i < 100; i++) {
      const value = `/item-${i}`
      assert.equal(h.pick(ts, req(value)), ring.pick(ts, hash32(value)), `${hashKey} ${value}`)
    }
  }
})

test('cookies are found by exact name, in place', () => {
  const v = hash32('v')
  const found = ['sid=v', ' sid=v ', 'a=1;sid=v', 'a=1; sid="v"', 'xsid=w; sid=v', 'sidx=w; sid=v;', 'a=1;\tsid=v\t; b']
  for (const header of found) assert.equal(cookieHash(header, 'sid'), v, header)
  const missing = ['', 'sidx=v', 'xsid=v', 'a=sid=v', 'sid', 'sid=', 'sid=""', 'a=1; SID=v']
  for (const header of missing) assert.equal(cookieHash(header, 'sid'), -1, header)
})

test('a request without the key falls back to smooth round robin', () => {
  const ts = targets(['a', 'b', 'c'])
  const none: [string, RequestFacts][] = [
    ['header:x-user', request()],
    ['header:x-user', request({ headers: { 'x-user': '' } })],
    ['header:x-user', request({ headers: { 'x-user': [] } })],
    ['cookie:sid', request({ headers: { cookie: 'theme=dark' } })],
    ['cookie:sid', request()],
    ['client-ip', request({ clientIp: '' })],
  ]
  for (const [hashKey, req] of none) {
    const h = hash(ts, { hashKey })
    assert.deepEqual(addresses(() => h.pick(ts, req), 6), [...'abcabc'], hashKey)
  }
})

test('a malformed hashKey is refused when the algorithm is built', () => {
  for (const hashKey of [undefined, '', 'header:', 'cookie:', 'query', 'Path']) {
    assert.throws(() => hash(group(), { hashKey }), /hashKey .* is not header:NAME/)
  }
})
