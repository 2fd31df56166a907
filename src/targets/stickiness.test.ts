import { test } from 'node:test'
import assert from 'node:assert/strict'
import { algorithms } from '../balancing/registry.ts'
import { request } from '../balancing/testing.ts'
import { targetGroup, type TargetGroupConfig } from '../config/schema.ts'
import { cookieValue, setsCookie, targetId } from './stickiness.ts'
import { TargetGroup, type GroupTarget } from './target-group.ts'
import { HealthStore } from './target-health.ts'
import { TargetStateStore } from './target-state.ts'

function group(extra: Record<string, unknown>, health = new HealthStore(() => 0)): TargetGroup {
  const config = targetGroup.parse({ targets: ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'], ...extra })
  return new TargetGroup('app', config as TargetGroupConfig, new TargetStateStore(), health, algorithms['round-robin'],
    (address) => ({ host: address.split(':')[0], port: 80 }))
}
const withCookie = (cookie: string) => request({ headers: { cookie } })
const at = (g: TargetGroup, i: number): GroupTarget => g.primaries[i]

test('cookie values: whole names only, quotes dropped, absent is undefined', () => {
  const h = 'a=1; xfulcrum_sticky=forged; fulcrum_sticky="abc" ; z=2'
  assert.equal(cookieValue(h, 'fulcrum_sticky='), 'abc')
  assert.equal(cookieValue('fulcrum_sticky=v', 'fulcrum_sticky='), 'v')
  assert.equal(cookieValue('xfulcrum_sticky=v', 'fulcrum_sticky='), undefined)
  assert.equal(cookieValue('a=1;fulcrum_sticky=v;b=2', 'fulcrum_sticky='), 'v')
  assert.equal(cookieValue('a=1', 'fulcrum_sticky='), undefined)
  assert.equal(cookieValue('fulcrum_sticky=', 'fulcrum_sticky='), '')
})

test('target ids are opaque, 16 characters, per group and address', () => {
  const id = targetId('app', '10.0.0.1:80')
  assert.match(id, /^[A-Za-z0-9_-]{16}$/)
  assert.equal(targetId('app', '10.0.0.1:80'), id, 'stable across processes and restarts')
  assert.notEqual(targetId('api', '10.0.0.1:80'), id)
  assert.notEqual(targetId('app', '10.0.0.2:80'), id)
  assert.ok(!id.includes('10.0.0'))
})

test('cookie: a known id sticks without the algorithm; an unknown or forged id picks normally', () => {
  const g = group({ stickiness: { type: 'cookie' } })
  const s = g.stickiness!
  const id = targetId('app', '10.0.0.3:80')
  const sticky = s.requested(withCookie(`other=1; fulcrum_sticky=${id}`).headers)
  assert.equal(sticky, at(g, 2))
  for (let i = 0; i < 5; i++) assert.equal(g.pick(request(), undefined, 0, sticky ?? undefined), at(g, 2))
  assert.equal(s.requested(withCookie('fulcrum_sticky=AAAAAAAAAAAAAAAA').headers), null)
  assert.equal(s.requested(withCookie(`fulcrum_sticky=${targetId('other', '10.0.0.3:80')}`).headers), null)
  assert.equal(s.requested(withCookie('session=1').headers), undefined)
  assert.equal(s.requested(request().headers), undefined)
  // Normal picks rotate as if no cookie had been seen.
  assert.deepEqual([0, 1, 2].map(() => g.pick(request(), undefined, 0, undefined)?.address), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'])
})

test('cookie: a draining, unhealthy, passively down or full target loses its sticky clients', () => {
  const health = new HealthStore(() => 0)
  const g = group({ stickiness: { type: 'cookie' }, passive: { maxFails: 1, failTimeout: 10_000 } }, health)
  const c = at(g, 2)
  for (const state of ['draining', 'unhealthy'] as const) {
    health.set('app', c.address, state)
    for (let i = 0; i < 4; i++) assert.notEqual(g.pick(request(), undefined, 0, c), c, state)
    health.set('app', c.address, 'healthy')
    assert.equal(g.pick(request(), undefined, 0, c), c)
  }
  c.state.downUntil = 5_000
  assert.notEqual(g.pick(request(), undefined, 0, c), c, 'passively down')
  c.state.downUntil = 0
  const full = group({ stickiness: { type: 'cookie' }, targets: [{ address: '10.0.0.1:80' }, { address: '10.0.0.2:80', maxConns: 1 }] })
  full.primaries[1].state.inFlight = 1
  assert.equal(full.pick(request(), undefined, 0, full.primaries[1]), full.primaries[0], 'at maxConns')
})

test('cookie: Set-Cookie when the request did not name the target that answered', () => {
  const g = group({ stickiness: { type: 'cookie', duration: '1h' } })
  const s = g.stickiness!
  const headers: string[] = ['content-type', 'text/plain']
  s.addCookie(headers, at(g, 1), at(g, 1))
  assert.deepEqual(headers, ['content-type', 'text/plain'], 'already sticky: nothing to say')
  for (const requested of [undefined, null, at(g, 0)]) {
    const out: string[] = []
    s.addCookie(out, at(g, 1), requested)
    assert.deepEqual(out, ['set-cookie', `fulcrum_sticky=${targetId('app', '10.0.0.2:80')}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax`])
  }
  const session: string[] = []
  const g0 = group({ stickiness: { type: 'cookie', cookie: 'lb', duration: 0 } })
  g0.stickiness!.addCookie(session, at(g0, 0), undefined)
  assert.deepEqual(session, ['set-cookie', `lb=${targetId('app', '10.0.0.1:80')}; Path=/; HttpOnly; SameSite=Lax`])
})

test('app-cookie: sticks only with both cookies; our cookie follows the application\'s Set-Cookie', () => {
  const g = group({ stickiness: { type: 'app-cookie', cookie: 'JSESSIONID' } })
  const s = g.stickiness!
  const id = targetId('app', '10.0.0.2:80')
  assert.equal(s.cookieName, 'fulcrum_app_app')
  assert.equal(s.requested(withCookie(`JSESSIONID=x1; fulcrum_app_app=${id}`).headers), at(g, 1))
  assert.equal(s.requested(withCookie(`fulcrum_app_app=${id}`).headers), undefined, 'no application cookie')
  assert.equal(s.requested(withCookie(`XJSESSIONID=x1; fulcrum_app_app=${id}`).headers), undefined)
  const ours = `fulcrum_app_app=${id}; Path=/; HttpOnly; SameSite=Lax`

  const none: string[] = ['content-type', 'text/plain']
  s.addCookie(none, at(g, 1), undefined)
  assert.equal(none.length, 2, 'the application set no cookie')
  const sets = ['Set-Cookie', 'JSESSIONID=x1; Path=/']
  s.addCookie(sets, at(g, 1), undefined)
  assert.deepEqual(sets.slice(2), ['set-cookie', ours])
  const same = ['Set-Cookie', 'JSESSIONID=x2; Path=/']
  s.addCookie(same, at(g, 1), at(g, 1))
  assert.equal(same.length, 2, 'already ours')
  const moved: string[] = []
  s.addCookie(moved, at(g, 1), at(g, 0))
  assert.deepEqual(moved, ['set-cookie', ours], 'the named target could not take it: the session moved')
  assert.equal(setsCookie(['set-cookie', 'OTHER=1'], 'JSESSIONID='), false)
})

test('a sticky backup serves only while no primary can', () => {
  const health = new HealthStore(() => 0)
  const g = group({ stickiness: { type: 'cookie' }, targets: ['10.0.0.1:80', { address: '10.0.0.9:80', backup: true }] }, health)
  const backup = g.backups[0]
  assert.equal(g.pick(request(), undefined, 0, backup), g.primaries[0])
  health.set('app', '10.0.0.1:80', 'draining')
  assert.equal(g.pick(request(), undefined, 0, backup), backup)
})
