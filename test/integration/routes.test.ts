/** Routing through a live listener: host, path, method and header matches, redirects, fixed answers, 404, weighted groups. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'

test('routes: first match wins; redirect, respond, 404 and weighted forwarding', async (t) => {
  const api = await new Backend((req, res) => { req.resume(); res.end('api') }).start()
  const blue = await new Backend((req, res) => { req.resume(); res.end('blue') }).start()
  const green = await new Backend((req, res) => { req.resume(); res.end('green') }).start()
  t.after(() => Promise.all([api.close(), blue.close(), green.close()]))
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:0',
      routes: [
        { match: { host: 'api.example.com', path: '/api/' }, forward: 'api' },
        { match: { host: '*.tenant.example.com', method: ['POST', 'PUT'] }, forward: 'api' },
        { match: { headers: { 'x-beta': 'on' } }, forward: 'green' },
        { match: { path: '/old/' }, redirect: { location: 'https://example.com/new/', status: 301 } },
        { match: { pathExact: '/ping' }, respond: { status: 200, body: 'pong' } },
        { match: { pathRegex: '^/static/.*\\.css$' }, respond: { status: 200, body: 'css', contentType: 'text/css' } },
        { match: { path: '/' , host: 'www.example.com' }, forward: { blue: 90, green: 10 } },
      ],
    }],
    targetGroups: { api: { targets: [api.address] }, blue: { targets: [blue.address] }, green: { targets: [green.address] } },
  })
  const get = async (path: string, opts: { method?: string; headers?: Record<string, string> } = {}) => {
    const res = await request(`${lb.url()}${path}`, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers })
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
  }
  assert.equal((await get('/api/users', { headers: { host: 'API.example.com:80' } })).body, 'api')
  assert.equal((await get('/api/users', { headers: { host: 'other.example.com' } })).status, 404)
  assert.equal((await get('/x', { method: 'POST', headers: { host: 'a.tenant.example.com' } })).body, 'api')
  assert.equal((await get('/x', { method: 'GET', headers: { host: 'a.tenant.example.com' } })).status, 404)
  assert.equal((await get('/x', { headers: { 'x-beta': 'on' } })).body, 'green')
  const redirect = await get('/old/page')
  assert.equal(redirect.status, 301)
  assert.equal(redirect.headers.location, 'https://example.com/new/')
  assert.equal((await get('/ping')).body, 'pong')
  assert.equal((await get('/ping/more')).status, 404)
  const css = await get('/static/site.css')
  assert.equal(css.body, 'css')
  assert.equal(css.headers['content-type'], 'text/css')
  const notFound = await get('/nothing')
  assert.equal(notFound.status, 404)
  assert.equal(notFound.body, '404 Not Found\n')

  const counts: Record<string, number> = {}
  for (let i = 0; i < 100; i++) {
    const { body } = await get('/', { headers: { host: 'www.example.com' } })
    counts[body] = (counts[body] ?? 0) + 1
  }
  assert.deepEqual(counts, { blue: 90, green: 10 })
})
