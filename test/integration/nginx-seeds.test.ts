/**
 * The seed documents' nginx configurations, run by Fulcrum: 000 and 001 translate and serve real
 * backends as nginx would (round robin in file order, nginx's headers, a dead backend routed around);
 * 002 is refused with exactly nginx's two mistakes and both lines, by the real CLI, at validate and start;
 * fixed, it validates with its listen 443 ssl as an https listener.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { request } from 'undici'
import { Balancer } from '../../src/balancer.ts'
import { formatProblem, loadConfig } from '../../src/config/load.ts'
import { httpListeners } from '../../src/config/schema.ts'
import { silentLogger } from '../../src/log.ts'
import { Backend } from '../helpers/backend.ts'
import { freePort, ROOT, runFulcrum, tempDir } from '../helpers/process.ts'

const FIXTURES = join(ROOT, 'test/fixtures/nginx')

/** Starts `n` backends and the nginx text with 8081… replaced by their ports and 8080 by a free one. */
async function serveNginx(t: TestContext, text: string, n: number): Promise<{ url: string; backends: Backend[] }> {
  const backends: Backend[] = []
  for (let i = 0; i < n; i++) {
    const b = await new Backend().start()
    t.after(() => b.close())
    backends.push(b)
  }
  const port = await freePort()
  let conf = text.replaceAll('listen 8080', `listen 127.0.0.1:${port}`)
  backends.forEach((b, i) => { conf = conf.replaceAll(`127.0.0.1:${8081 + i}`, b.address) })
  const file = tempDir(t).write('nginx.conf', conf)
  const loaded = await loadConfig(file)
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n'))
  const balancer = new Balancer({ log: silentLogger() })
  await balancer.start(loaded.config)
  t.after(() => balancer.stop(1_000))
  return { url: `http://127.0.0.1:${port}`, backends }
}

async function get(url: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const res = await request(url)
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers }
}

test('seed 000: four backends answer in turn, with the headers nginx sends and nothing more', async (t) => {
  const golden = readFileSync(join(FIXTURES, 'golden/seed-000.nginxtest'), 'utf8').split(/^-{10,}\n/m)[0]
  const { url, backends } = await serveNginx(t, golden, 4)
  const bodies: string[] = []
  for (let i = 0; i < 8; i++) {
    const res = await get(`${url}/`)
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-request-id'], undefined)
    bodies.push(res.body)
  }
  const ports = backends.map((b) => `Response from ${b.port}`)
  assert.deepEqual(bodies, [...ports, ...ports])
  const received = backends[0].received[0]
  assert.equal(received.headers.host, 'backend')
  for (const name of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'x-request-id']) {
    assert.equal(received.headers[name], undefined, `${name} was sent`)
  }
})

test('seed 001: a dead backend is routed around and left alone for fail_timeout', async (t) => {
  const { url, backends } = await serveNginx(t, readFileSync(join(FIXTURES, 'seed-001.conf'), 'utf8'), 3)
  const [first, dead, third] = backends
  await dead.kill()
  const bodies: string[] = []
  for (let i = 0; i < 6; i++) {
    const res = await get(`${url}/`)
    assert.equal(res.status, 200, 'the failed attempt is retried on the next server (proxy_next_upstream error)')
    bodies.push(res.body)
  }
  assert.deepEqual(new Set(bodies), new Set([`Response from ${first.port}`, `Response from ${third.port}`]))
  assert.equal(first.count + third.count, 6)
})

/** The seed-002 folder with real certificates, so that only the post's two mistakes remain. */
function seed002(t: TestContext): string {
  const { dir } = tempDir(t)
  cpSync(join(FIXTURES, 'seed-002'), dir, { recursive: true })
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=api.moyeora.site',
    '-addext', 'subjectAltName=DNS:api.moyeora.site', '-keyout', join(dir, 'privkey.pem'), '-out', join(dir, 'fullchain.pem')], { stdio: 'ignore' })
  return dir
}

const SEED_002_PROBLEMS = [
  'sites-enabled/momo.conf:5: "upstream" is not allowed in "server"; move the upstream block into "http" (next to the server blocks)',
  'sites-enabled/momo.conf:15: proxy_pass needs a scheme: write http://momo_server',
]

test('seed 002: validate names both mistakes with their lines and exits 1', async (t) => {
  const dir = seed002(t)
  const file = join(dir, 'nginx.conf')
  const result = await runFulcrum(t, ['validate', '-c', file])
  assert.equal(result.code, 1, result.stderr)
  const lines = result.stderr.trim().split('\n')
  assert.deepEqual(lines.slice(0, -1), SEED_002_PROBLEMS.map((p) => `${dir}/${p}`))
  assert.match(lines.at(-1) as string, /2 problems; nothing was started/)
})

test('seed 002: start refuses with the same messages', async (t) => {
  const dir = seed002(t)
  const result = await runFulcrum(t, ['start', '-c', join(dir, 'nginx.conf')])
  assert.equal(result.code, 1)
  for (const p of SEED_002_PROBLEMS) assert.ok(result.stderr.includes(`${dir}/${p}`), result.stderr)
})

test('seed 002 fixed as the post meant it: it validates, listen 443 ssl with its certificate', async (t) => {
  const dir = seed002(t)
  const site = join(dir, 'sites-enabled/momo.conf')
  const text = readFileSync(site, 'utf8')
  // The upstream moves into http, and proxy_pass gets its scheme.
  const upstream = /\tupstream momo_server \{[^}]*\}\n/.exec(text)?.[0] as string
  writeFileSync(site, text.replace(upstream, '').replace('proxy_pass momo_server', 'proxy_pass http://momo_server'))
  const main = join(dir, 'nginx.conf')
  writeFileSync(main, readFileSync(main, 'utf8').replace('http {\n', `http {\n${upstream}`))
  const result = await runFulcrum(t, ['validate', '-c', join(dir, 'nginx.conf')])
  assert.equal(result.code, 0, result.stderr)
  const loaded = await loadConfig(main)
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n'))
  const https = httpListeners(loaded.config).find((l) => l.protocol === 'https')
  assert.deepEqual(https?.tls?.certificates, [{ cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') }])
})
