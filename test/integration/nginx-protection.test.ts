/**
 * An nginx.conf's limit_req and set_real_ip_from, translated and served: the burst is refused past its
 * size with limit_req_status and Retry-After, buckets are kept per real client, and the client behind a
 * trusted proxy (X-Forwarded-For) is the $remote_addr the target gets in X-Real-IP.
 */
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { Balancer } from '../../src/balancer.ts'
import { formatProblem, loadConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/log.ts'
import { Backend } from '../helpers/backend.ts'
import { freePort, tempDir } from '../helpers/process.ts'

interface Answer { status: number; body: string; headers: Record<string, string | string[] | undefined> }

/** One request on a new connection, from `from` (a 127.0.0.x address). */
function get(port: number, path: string, options: { from?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress: options.from, agent: false, headers: options.headers }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function serve(t: TestContext): Promise<{ port: number; backend: Backend }> {
  const backend = new Backend((req, res) => {
    req.resume()
    res.end(`real=${req.headers['x-real-ip']} xff=${req.headers['x-forwarded-for']}`)
  })
  await backend.start()
  t.after(() => backend.close())
  const port = await freePort()
  const file = tempDir(t).write('nginx.conf', `events {}
http {
    # 1r/m: nothing leaks back during the test, so the burst alone decides.
    limit_req_zone $binary_remote_addr zone=perip:1m rate=1r/m;
    limit_req_status 429;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    server {
        listen 127.0.0.1:${port};
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        location /limited/ {
            limit_req zone=perip burst=2 nodelay;
            proxy_pass http://${backend.address};
        }
        location / {
            proxy_pass http://${backend.address};
        }
    }
}
`)
  const loaded = await loadConfig(file)
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n'))
  const balancer = new Balancer({ log: silentLogger() })
  await balancer.start(loaded.config)
  t.after(() => balancer.stop(1_000))
  return { port, backend }
}

test('limit_req burst=2 nodelay: three served at once, the 4th refused with limit_req_status 429 and Retry-After', async (t) => {
  const { port, backend } = await serve(t)
  const answers: Answer[] = []
  for (let i = 0; i < 4; i++) answers.push(await get(port, `/limited/${i}`))
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 429])
  const refused = answers[3]
  assert.equal(refused.headers['retry-after'], '60', 'one request of excess leaks in a minute at 1r/m')
  assert.match(refused.body, /429 Too Many Requests/, 'nginx\'s page')
  assert.equal(backend.count, 3)
  // The bucket is the real client's: behind the trusted proxy, another client has its own.
  const behind = await get(port, '/limited/x', { headers: { 'x-forwarded-for': '203.0.113.9' } })
  assert.equal(behind.status, 200)
  assert.equal(behind.body, 'real=203.0.113.9 xff=203.0.113.9, 203.0.113.9')
  // Locations without limit_req are not limited.
  assert.equal((await get(port, '/open')).status, 200)
})

test('set_real_ip_from: X-Forwarded-For names the client only when the peer is trusted', async (t) => {
  const { port } = await serve(t)
  const trusted = await get(port, '/', { headers: { 'x-forwarded-for': '198.51.100.7' } })
  // As nginx: $remote_addr is the client from X-Forwarded-For, and $proxy_add_x_forwarded_for appends it.
  assert.equal(trusted.body, 'real=198.51.100.7 xff=198.51.100.7, 198.51.100.7')
  const direct = await get(port, '/')
  assert.equal(direct.body, 'real=127.0.0.1 xff=127.0.0.1')
  const untrusted = await get(port, '/', { from: '127.0.0.2', headers: { 'x-forwarded-for': '198.51.100.7' } })
  assert.equal(untrusted.body, 'real=127.0.0.2 xff=198.51.100.7, 127.0.0.2', 'a peer that is not trusted speaks for itself')
})
