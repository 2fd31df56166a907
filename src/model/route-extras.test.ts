import { test } from 'node:test'
import assert from 'node:assert/strict'
import { addHeaderApplies, RouteExtras } from './route-extras.ts'

test('add_header applies to 200, 201, 204, 206, 301, 302, 303, 304, 307, 308 only, unless always', () => {
  const yes = [200, 201, 204, 206, 301, 302, 303, 304, 307, 308]
  for (let status = 100; status < 600; status++) {
    assert.equal(addHeaderApplies(status, false), yes.includes(status), String(status))
    assert.equal(addHeaderApplies(status, true), true)
  }
})

test('a route that uses no extra feature has no extras (its requests take the plain path)', () => {
  const base = { nginxPages: false, serverName: '', always: false, templated: false }
  assert.equal(RouteExtras.of(base), undefined)
  assert.equal(RouteExtras.of({ ...base, maxBodyBytes: 0, addHeaders: [] }), undefined)
  assert.ok(RouteExtras.of({ ...base, maxBodyBytes: 1 }))
  assert.ok(RouteExtras.of({ ...base, templated: true }))
  assert.ok(RouteExtras.of({ ...base, nginxPages: true }))
  assert.ok(RouteExtras.of({ ...base, always: true }))
})
