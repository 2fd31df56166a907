/**
 * Stickiness through a live listener: the balancer's cookie keeps a client on one target until that target
 * drains, fails its checks or fails the request; app-cookie follows the application's session cookie.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { Backend, startBackends } from '../helpers/backend.ts'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'

interface Answer {
  readonly body: string
  readonly status: number
  /** Set-Cookie values of the response. */
  readonly cookies: string[]
}

async function send(url: string, cookie?: string): Promise<Answer> {
  const res = await request(url, { headers: cookie === undefined ? {} : { cookie } })
  const raw = res.headers['set-cookie']
  return { body: await res.body.text(), status: res.statusCode, cookies: raw === undefined ? [] : Array.isArray(raw) ? raw : [raw] }
}

/** "name=value" of the Set-Cookie named `name`, as the client would send it back. */
function cookieOf(answer: Answer, name: string): string | undefined {
  return answer.cookies.find((c) => c.startsWith(`${name}=`))?.split(';')[0]
}

const portOf = (body: string): number => Number(body.replace('Response from ', ''))

test('cookie: one target while it is eligible; draining, unhealthy or failing moves the client and renews the cookie', async (t) => {
  const backends = await startBackends(3)
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const lb = await startBalancer(t, simpleConfig(backends.map((b) => b.address),
    { stickiness: { type: 'cookie', cookie: 'fulcrum_sticky', duration: '1h' } }))
  const byPort = (port: number): Backend => backends.find((b) => b.port === port) as Backend

  const first = await send(lb.url())
  assert.equal(first.cookies.length, 1)
  assert.match(first.cookies[0], /^fulcrum_sticky=[A-Za-z0-9_-]{16}; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/)
  assert.ok(!first.cookies[0].includes('127.0.0.1'), 'the cookie never shows an address')
  let cookie = cookieOf(first, 'fulcrum_sticky') as string
  const home = first.body
  for (let i = 0; i < 20; i++) {
    const a = await send(lb.url(), `theme=dark; ${cookie}`)
    assert.equal(a.body, home)
    assert.deepEqual(a.cookies, [], 'a client already on its target gets no new cookie')
  }
  const noCookie = new Set<string>()
  for (let i = 0; i < 6; i++) noCookie.add((await send(lb.url())).body)
  assert.equal(noCookie.size, 3, 'clients without the cookie are balanced as usual')

  const moves: Array<'draining' | 'unhealthy'> = ['draining', 'unhealthy']
  let current = home
  for (const state of moves) {
    lb.balancer.health.set('app', byPort(portOf(current)).address, state)
    const moved = await send(lb.url(), cookie)
    assert.notEqual(moved.body, current, `${state}: the next request goes elsewhere`)
    const renewed = cookieOf(moved, 'fulcrum_sticky')
    assert.ok(renewed !== undefined && renewed !== cookie, `${state}: with a new cookie`)
    cookie = renewed
    current = moved.body
    for (let i = 0; i < 5; i++) assert.equal((await send(lb.url(), cookie)).body, current, `${state}: and stays there`)
  }

  // The last healthy target fails the request: the retry goes to another target, whose cookie is set.
  for (const b of backends) lb.balancer.health.set('app', b.address, 'healthy')
  await byPort(portOf(current)).kill()
  const retried = await send(lb.url(), cookie)
  assert.equal(retried.status, 200)
  assert.notEqual(retried.body, current)
  const after = cookieOf(retried, 'fulcrum_sticky')
  assert.ok(after !== undefined && after !== cookie)
  for (let i = 0; i < 5; i++) assert.equal((await send(lb.url(), after)).body, retried.body)
})

test('cookie: a forged id is balanced normally and gets a real cookie', async (t) => {
  const backends = await startBackends(2)
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const lb = await startBalancer(t, simpleConfig(backends.map((b) => b.address), { stickiness: { type: 'cookie' } }))
  const bodies = new Set<string>()
  for (let i = 0; i < 4; i++) {
    const a = await send(lb.url(), 'fulcrum_sticky=127.0.0.1:1')
    bodies.add(a.body)
    assert.match(cookieOf(a, 'fulcrum_sticky') ?? '', /^fulcrum_sticky=[A-Za-z0-9_-]{16}$/)
  }
  assert.equal(bodies.size, 2)
})

test('app-cookie: the balancer follows the application\'s session cookie', async (t) => {
  let sessions = 0
  const backends = await startBackends(3, (req, res) => {
    req.resume()
    const port = (req.socket.localPort as number)
    // The application starts a session when the request has none.
    if (!(req.headers.cookie ?? '').includes('JSESSIONID=')) res.setHeader('set-cookie', `JSESSIONID=s${++sessions}; Path=/; HttpOnly`)
    res.end(`Response from ${port}`)
  })
  t.after(() => Promise.all(backends.map((b) => b.close())))
  const lb = await startBalancer(t, simpleConfig(backends.map((b) => b.address), { stickiness: { type: 'app-cookie', cookie: 'JSESSIONID' } }))

  const first = await send(lb.url())
  const session = cookieOf(first, 'JSESSIONID') as string
  const ours = cookieOf(first, 'fulcrum_app_app') as string
  assert.ok(session !== undefined && ours !== undefined, first.cookies.join(' | '))
  assert.match(first.cookies.find((c) => c.startsWith('fulcrum_app_app='))!, /^fulcrum_app_app=[A-Za-z0-9_-]{16}; Path=\/; HttpOnly; SameSite=Lax$/)
  for (let i = 0; i < 20; i++) {
    const a = await send(lb.url(), `${session}; ${ours}`)
    assert.equal(a.body, first.body)
    assert.deepEqual(a.cookies, [])
  }
  const withoutApp = new Set<string>()
  for (let i = 0; i < 6; i++) withoutApp.add((await send(lb.url(), ours)).body)
  assert.equal(withoutApp.size, 3, 'without the application cookie, requests are balanced normally')
  const withoutOurs = new Set<string>()
  for (let i = 0; i < 6; i++) withoutOurs.add((await send(lb.url(), session)).body)
  assert.equal(withoutOurs.size, 3, 'without our cookie too')

  // The session's target drains: the request goes elsewhere, and our cookie now names that target.
  const home = backends.find((b) => first.body === `Response from ${b.port}`) as Backend
  lb.balancer.health.set('app', home.address, 'draining')
  const moved = await send(lb.url(), `${session}; ${ours}`)
  assert.notEqual(moved.body, first.body)
  const next = cookieOf(moved, 'fulcrum_app_app')
  assert.ok(next !== undefined && next !== ours)
  for (let i = 0; i < 5; i++) assert.equal((await send(lb.url(), `${session}; ${next}`)).body, moved.body)
})
