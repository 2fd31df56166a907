/** Algorithms through a live listener: hashing keeps a key on one target, least-conn avoids a busy one. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startBackends, Backend } from '../helpers/backend.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'

const get = async (url: string, headers: Record<string, string> = {}) => (await request(url, { headers })).body.text()

test('hash on a header keeps each user on one target, and spreads users', async (t) => {
  const backends = await startBackends(4)
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const lb = await startBalancer(t, simpleConfig(backends.map((b) => b.address), { algorithm: 'hash', hashKey: 'header:x-user-id' }))
  const home = new Map<string, string>()
  for (let round = 0; round < 3; round++) {
    for (let user = 0; user < 40; user++) {
      const body = await get(lb.url(), { 'x-user-id': `user-${user}` })
      if (round === 0) home.set(`user-${user}`, body)
      else assert.equal(body, home.get(`user-${user}`))
    }
  }
  assert.ok(new Set(home.values()).size >= 3, 'users spread over the targets')
})

test('ip-hash keeps one client on one target', async (t) => {
  const backends = await startBackends(3)
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const lb = await startBalancer(t, simpleConfig(backends.map((b) => b.address), { algorithm: 'ip-hash' }))
  const bodies = new Set<string>()
  for (let i = 0; i < 12; i++) bodies.add(await get(lb.url()))
  assert.equal(bodies.size, 1)
})

test('least-conn sends new requests away from a target busy with slow ones', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((r) => { release = r })
  const slow = await new Backend(async (req, res) => { req.resume(); if (req.url === '/slow') await held; res.end('slow') }).start()
  const fast = await new Backend((req, res) => { req.resume(); res.end('fast') }).start()
  t.after(() => { release(); return Promise.all([slow.close(), fast.close()]) })
  const lb = await startBalancer(t, simpleConfig([slow.address, fast.address], { algorithm: 'least-conn' }))
  const pending = [get(`${lb.url()}/slow`), get(`${lb.url()}/slow`)]
  while (slow.count < 1) await new Promise((r) => setTimeout(r, 5))
  const bodies: string[] = []
  for (let i = 0; i < 6; i++) bodies.push(await get(lb.url()))
  assert.ok(bodies.filter((b) => b === 'fast').length >= 5, bodies.join(','))
  release()
  await Promise.all(pending)
})
