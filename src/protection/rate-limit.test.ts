import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RateLimitZone, RateLimitZones } from './rate-limit.ts'

/** Sends `n` requests of one key at `now`; 'ok' with its delay, or 'no' when refused. */
function burstAt(zone: RateLimitZone, now: number, n: number, burst: number, delay: number): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const refused = zone.check('k', now, burst)
    out.push(refused === undefined ? `ok${zone.take('k', now, delay)}` : 'no')
  }
  return out
}

test('burst 0: one request per 1/rate; the first finds an empty bucket (nginx)', () => {
  const zone = new RateLimitZone('z', 10, 100)
  assert.deepEqual(burstAt(zone, 0, 3, 0, 0), ['ok0', 'no', 'no'])
  // 100 ms later the one request of excess has leaked.
  assert.deepEqual(burstAt(zone, 100, 2, 0, 0), ['ok0', 'no'])
  assert.deepEqual(burstAt(zone, 150, 1, 0, 0), ['no'])
})

test('burst with delay: requests beyond the rate are spaced at it; nodelay serves them at once', () => {
  const delayed = new RateLimitZone('d', 1, 100)
  assert.deepEqual(burstAt(delayed, 0, 5, 3, 0), ['ok0', 'ok1000', 'ok2000', 'ok3000', 'no'])
  const now = new RateLimitZone('n', 1, 100)
  assert.deepEqual(burstAt(now, 0, 5, 3, Infinity), ['ok0', 'ok0', 'ok0', 'ok0', 'no'])
  // delay=2: the first two of the burst at once, then spaced.
  const partly = new RateLimitZone('p', 1, 100)
  assert.deepEqual(burstAt(partly, 0, 5, 3, 2), ['ok0', 'ok0', 'ok0', 'ok1000', 'no'])
})

test('a refusal says when to retry; keys are separate', () => {
  const zone = new RateLimitZone('z', 2, 100)
  zone.take('a', 0, 0)
  zone.take('a', 0, 0)
  assert.deepEqual(zone.check('a', 0, 0), { kind: 'reject', retryAfterS: 1 })
  assert.equal(zone.check('b', 0, 0), undefined)
  const slow = new RateLimitZone('s', 1 / 60, 100)
  slow.take('a', 0, 0)
  assert.deepEqual(slow.check('a', 0, 0), { kind: 'reject', retryAfterS: 60 })
})

test('the key table is bounded: the least recently used key is forgotten', () => {
  const zone = new RateLimitZone('z', 1, 3)
  for (const k of ['a', 'b', 'c']) zone.take(k, 0, 0)
  zone.take('a', 0, 0)
  zone.take('d', 0, 0)
  assert.equal(zone.keys, 3)
  // b was the least recently used: forgotten, so its next request finds an empty bucket.
  assert.equal(zone.check('b', 0, 0), undefined)
  assert.notEqual(zone.check('a', 0, 0), undefined)
})

test('absorb: requests another worker let through fill this bucket too', () => {
  const zone = new RateLimitZone('z', 1, 100)
  zone.shareWithWorkers()
  zone.take('a', 0, 0)
  assert.deepEqual([...zone.drainAccepted() ?? []], [['a', 1]])
  assert.equal(zone.drainAccepted(), undefined)
  const other = new RateLimitZone('z', 1, 100)
  other.absorb('a', 1, 0)
  assert.deepEqual(other.check('a', 10, 0), { kind: 'reject', retryAfterS: 1 })
})

test('zones keep their buckets across reloads unless rate or size change', () => {
  const zones = new RateLimitZones()
  const z = zones.zone('api', 5, 100)
  assert.equal(zones.zone('api', 5, 100), z)
  assert.notEqual(zones.zone('api', 6, 100), z)
  zones.retain(new Set())
  assert.equal(zones.get('api'), undefined)
})
