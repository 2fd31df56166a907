/**
 * The admin commands of the real CLI against a real `fulcrum start` (child processes, admin API on a free
 * port): targets add/list/remove --wait, reload, status and its exit codes, finding the admin API from
 * -c FILE and FULCRUM_ADMIN, the token from FULCRUM_ADMIN_TOKEN or the file, and the refusals to start.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { Backend, type Handler } from '../helpers/backend.ts'
import { Child, CLI, freePort, NODE, ROOT, runFulcrum, spawnFulcrum, tempDir, until, waitForHttp } from '../helpers/process.ts'

/** Runs `fulcrum args…` with exactly these admin variables in its environment (none inherited). */
async function cli(t: TestContext, args: string[], env: Record<string, string> = {}) {
  const clean: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  delete clean.FULCRUM_ADMIN
  delete clean.FULCRUM_ADMIN_TOKEN
  const child = new Child(spawn(NODE, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...clean, ...env } }), `fulcrum ${args.join(' ')}`)
  t.after(() => child.kill())
  const exit = await child.waitForExit(10_000)
  return { ...exit, stdout: child.stdout, stderr: child.stderr, output: child.output }
}

const healthyHandler: Handler = (req, res, b) => { req.resume(); res.end(req.url === '/health' ? 'ok' : `Response from ${b.port}`) }

function config(port: number, adminPort: number, targets: string[], admin = ''): string {
  return `admin:
  listen: 127.0.0.1:${adminPort}
${admin}listeners:
  - { name: web, protocol: http, listen: "127.0.0.1:${port}", routes: [{ forward: app }] }
targetGroups:
  app:
    targets: [${targets.join(', ')}]
    healthCheck: { path: /health, interval: 100ms, timeout: 80ms, healthyThreshold: 2, unhealthyThreshold: 2 }
    deregistrationDelay: 2s
`
}

async function startFulcrum(t: TestContext, backends: number, admin = '') {
  const list = await Promise.all(Array.from({ length: backends }, () => new Backend(healthyHandler).start()))
  t.after(() => Promise.all(list.map((b) => b.close())))
  const [port, adminPort] = [await freePort(), await freePort()]
  const dir = tempDir(t)
  const write = (targets: string[]) => dir.write('fulcrum.yaml', config(port, adminPort, targets, admin))
  const file = write(list.slice(0, 1).map((b) => b.address))
  const lb = spawnFulcrum(t, ['start', '-c', file])
  await waitForHttp(`http://127.0.0.1:${adminPort}/api/v1/status`, 5_000, lb)
  return { lb, file, write, backends: list, port, adminUrl: `http://127.0.0.1:${adminPort}` }
}

async function stateOf(t: TestContext, file: string, address: string): Promise<string | undefined> {
  const r = await cli(t, ['targets', 'list', 'app', '--json', '-c', file])
  assert.equal(r.code, 0, r.output)
  return (JSON.parse(r.stdout) as { targets: Array<{ address: string; state: string }> }).targets.find((x) => x.address === address)?.state
}

test('targets add, list and remove --wait, finding the admin API from -c FILE', async (t) => {
  const { file, backends: [a, b] } = await startFulcrum(t, 2)
  const add = await cli(t, ['targets', 'add', 'app', b.address, '--weight', '2', '-c', file])
  assert.equal(add.code, 0, add.output)
  assert.match(add.stdout, new RegExp(`registered ${b.address} in target group "app" \\(weight 2\\): initial`))
  await until(async () => (await stateOf(t, file, b.address)) === 'healthy', 5_000, 'the added target to turn healthy')

  const list = await cli(t, ['targets', 'list', '-c', file])
  assert.equal(list.code, 0, list.output)
  const lines = list.stdout.trim().split('\n')
  assert.match(lines[0], /^GROUP\s+TARGET\s+STATE\s+WEIGHT\s+IN FLIGHT\s+LAST CHECK$/)
  assert.match(list.stdout, new RegExp(`^app\\s+${a.address}\\s+healthy\\s+1\\s+0\\s+ok: status 200`, 'm'))
  assert.match(list.stdout, new RegExp(`^app\\s+${b.address}\\s+healthy\\s+2\\s+0\\s+ok: status 200`, 'm'))

  const remove = await cli(t, ['targets', 'remove', 'app', b.address, '--wait', '-c', file])
  assert.equal(remove.code, 0, remove.output)
  assert.match(remove.stdout, /draining until \d{4}-\d\d-\d\dT/)
  assert.match(remove.stdout, /drained: no request in flight/)
  assert.equal(await stateOf(t, file, b.address), undefined)

  const missing = await cli(t, ['targets', 'remove', 'app', b.address, '-c', file])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /^fulcrum: target .* is not registered in target group "app" \(target_not_found\)$/m)
  const usage = await cli(t, ['targets', 'add', 'app', '-c', file])
  assert.equal(usage.code, 2)
  assert.match(usage.stderr, /targets add needs GROUP ADDRESS/)
})

test('status: a table or --json; exit 0 while every used group has a healthy target, else 1', async (t) => {
  const { adminUrl, backends: [a] } = await startFulcrum(t, 1)
  const env = { FULCRUM_ADMIN: adminUrl }
  await until(async () => (await cli(t, ['status'], env)).code === 0, 5_000, 'status to exit 0')
  const plain = await cli(t, ['status'], env)
  assert.match(plain.stdout, /^fulcrum \S+, pid \d+, up /)
  assert.match(plain.stdout, /^listener web: http on 127\.0\.0\.1:\d+$/m)
  assert.match(plain.stdout, new RegExp(`^app\\s+${a.address}\\s+healthy`, 'm'))
  const json = await cli(t, ['status', '--json'], env)
  assert.equal(json.code, 0, json.output)
  assert.equal(JSON.parse(json.stdout).targetGroups[0].targets[0].state, 'healthy')

  a.handler = (req, res) => { req.resume(); res.statusCode = 500; res.end() }
  await until(async () => (await cli(t, ['status', '--json'], env)).code === 1, 5_000, 'status to exit 1')
  const down = await cli(t, ['status'], env)
  assert.equal(down.code, 1)
  assert.match(down.stdout, new RegExp(`^app\\s+${a.address}\\s+unhealthy\\s+1\\s+0\\s+failed: status 500`, 'm'))
  assert.match(down.stderr, /target group "app" has no healthy target/)
})

test('reload through FULCRUM_ADMIN: problems and exit 1 for a broken file, a summary for a good one', async (t) => {
  const { lb, write, file, backends: [a, b], adminUrl } = await startFulcrum(t, 2)
  const env = { FULCRUM_ADMIN: adminUrl }
  writeFileSync(file, 'listeners: [ { name: web\n')
  const bad = await cli(t, ['reload'], env)
  assert.equal(bad.code, 1, bad.output)
  assert.ok(bad.stderr.includes(`${file}:`), bad.stderr)
  assert.match(bad.stderr, /fulcrum: reload rejected: .* the old configuration keeps serving/)
  write([a.address, b.address])
  const ok = await cli(t, ['reload'], env)
  assert.equal(ok.code, 0, ok.output)
  assert.equal(ok.stdout.trim(), `configuration reloaded: +target app/${b.address}`)
  assert.ok(lb.running)
})

test('a token: from FULCRUM_ADMIN_TOKEN, --token or the -c file; refused without it', async (t) => {
  const { file, adminUrl } = await startFulcrum(t, 1, '  token: s3cret\n')
  const none = await cli(t, ['status', '--json'], { FULCRUM_ADMIN: adminUrl })
  assert.equal(none.code, 1)
  assert.match(none.stderr, /^fulcrum: .*Authorization: Bearer.* \(unauthorized\)$/m)
  const wrong = await cli(t, ['status', '--json', '--token', 'nope'], { FULCRUM_ADMIN: adminUrl })
  assert.match(wrong.stderr, /\(unauthorized\)/)
  for (const [args, env] of [[[], { FULCRUM_ADMIN: adminUrl, FULCRUM_ADMIN_TOKEN: 's3cret' }], [['--token', 's3cret', '--admin', adminUrl], {}], [['-c', file], {}]] as const) {
    const r = await cli(t, ['targets', 'list', '--json', ...args], env)
    assert.equal(r.code, 0, r.output)
  }
})

test('an unreachable admin API: exit 1 saying where and what to set', async (t) => {
  const port = await freePort()
  const r = await cli(t, ['status', '--admin', `http://127.0.0.1:${port}`])
  assert.equal(r.code, 1)
  assert.equal(r.stderr.trim(), `fulcrum: cannot reach the admin API at http://127.0.0.1:${port}: connection refused — is \`fulcrum start\` running? (set --admin or FULCRUM_ADMIN)`)
})

test('start refuses a non-loopback admin address without a token, and an admin port in use', async (t) => {
  const dir = tempDir(t)
  const open = dir.write('open.yaml', config(await freePort(), await freePort(), ['127.0.0.1:1']).replace('listen: 127.0.0.1:', 'listen: 0.0.0.0:'))
  const r = await runFulcrum(t, ['start', '-c', open])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /admin\.token/)

  const blocker = createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.after(() => blocker.close())
  const busy = (blocker.address() as { port: number }).port
  const taken = dir.write('taken.yaml', config(await freePort(), busy, ['127.0.0.1:1']))
  const r2 = await runFulcrum(t, ['start', '-c', taken])
  assert.equal(r2.code, 1, r2.stderr)
  assert.match(r2.stderr, /admin API.*already in use/)
})
