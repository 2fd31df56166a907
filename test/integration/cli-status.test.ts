/**
 * `fulcrum status` against a real `fulcrum start` (child processes, admin API on a free port): the table
 * and --json, exit 1 with the group that has no healthy target named last, exit 0 once every used group
 * has one, colour only when forced and never with NO_COLOR; and the start's own logs, JSON lines on a pipe,
 * whose reload line says what changed.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { Backend } from '../helpers/backend.ts'
import { Child, CLI, freePort, NODE, ROOT, spawnFulcrum, tempDir, until, waitForHttp } from '../helpers/process.ts'

/** Runs `fulcrum args…` with FULCRUM_ADMIN and exactly the colour variables given (none inherited). */
async function cli(t: TestContext, args: string[], env: Record<string, string>) {
  const clean: NodeJS.ProcessEnv = { ...process.env }
  for (const k of ['FULCRUM_ADMIN', 'FULCRUM_ADMIN_TOKEN', 'NO_COLOR', 'FORCE_COLOR']) delete clean[k]
  const child = new Child(spawn(NODE, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...clean, ...env } }), `fulcrum ${args.join(' ')}`)
  t.after(() => child.kill())
  const exit = await child.waitForExit(10_000)
  return { ...exit, stdout: child.stdout, stderr: child.stderr, output: child.output }
}

function config(port: number, adminPort: number, app: string, dead: string, downRoute: boolean): string {
  return `admin: { listen: "127.0.0.1:${adminPort}" }
listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:${port}
    routes:
${downRoute ? '      - { match: { path: /down/ }, forward: down }\n' : ''}      - forward: app
targetGroups:
  app:
    targets: [${app}]
    healthCheck: { path: /health, interval: 100ms, timeout: 80ms, healthyThreshold: 1, unhealthyThreshold: 1 }
  down:
    targets: [${dead}]
    healthCheck: { path: /health, interval: 100ms, timeout: 80ms, healthyThreshold: 1, unhealthyThreshold: 1 }
  spare:
    algorithm: least-conn
    targets: [127.0.0.1:1]
`
}

test('status: the table and --json, exit 1 naming the group without a healthy target, exit 0 once it has none to serve', async (t) => {
  const app = await new Backend((req, res) => { req.resume(); res.end('ok') }).start()
  t.after(() => app.close())
  const [port, adminPort, deadPort] = [await freePort(), await freePort(), await freePort()]
  const dead = `127.0.0.1:${deadPort}`
  const dir = tempDir(t)
  const file = dir.write('fulcrum.yaml', config(port, adminPort, app.address, dead, true))
  const lb = spawnFulcrum(t, ['start', '-c', file])
  await waitForHttp(`http://127.0.0.1:${adminPort}/api/v1/status`, 5_000, lb)
  const env = { FULCRUM_ADMIN: `http://127.0.0.1:${adminPort}`, NO_COLOR: '1' }
  const states = async (): Promise<string> => {
    const r = await cli(t, ['status', '--json'], env)
    return (JSON.parse(r.stdout) as { targetGroups: Array<{ targets: Array<{ state: string }> }> }).targetGroups.map((g) => g.targets[0].state).join(' ')
  }
  await until(async () => (await states()) === 'healthy unhealthy unused', 5_000, 'app healthy and down unhealthy')

  const down = await cli(t, ['status'], env)
  assert.equal(down.code, 1, down.output)
  const lines = down.stdout.trimEnd().split('\n')
  assert.match(lines[0], /^fulcrum \S+, pid \d+, up \S+, config .*fulcrum\.yaml$/)
  assert.ok(lines.includes(`listener web: http on 127.0.0.1:${port}`), down.stdout)
  assert.ok(lines.includes('target group app: round-robin, health check http /health every 100ms (healthy after 1, unhealthy after 1), 1 target'), down.stdout)
  assert.ok(lines.includes('target group spare: least-conn, no health check, unused: no route forwards to it, 1 target'), down.stdout)
  assert.match(down.stdout, /^GROUP\s+TARGET\s+STATE\s+WEIGHT\s+IN FLIGHT\s+LAST CHECK\s+REASON$/m)
  assert.match(down.stdout, new RegExp(`^app\\s+${app.address}\\s+healthy\\s+1\\s+0\\s+ok: status 200 in \\d+ms, \\S+ ago\\s+1 check passed in a row \\(status 200\\)$`, 'm'))
  assert.match(down.stdout, new RegExp(`^down\\s+${dead}\\s+unhealthy\\s+1\\s+0\\s+failed: connection refused in \\d+ms, \\S+ ago\\s+1 check failed in a row \\(connection refused\\)$`, 'm'))
  assert.match(down.stdout, /^spare\s+127\.0\.0\.1:1\s+unused\s+1\s+0\s+no health check\s+no route forwards to this target group$/m)
  assert.match(down.stdout, /^last transitions \(5 of \d+; --json for all\):$/m)
  assert.match(down.stdout, new RegExp(`^  \\d\\d:\\d\\d:\\d\\d \\(\\S+ ago\\)  down ${dead}\\s+initial -> unhealthy\\s+1 check failed in a row \\(connection refused\\)$`, 'm'))
  assert.doesNotMatch(down.stdout, /\x1b\[/)
  assert.equal(down.stderr.trimEnd().split('\n').at(-1), 'fulcrum: target group "down" has no healthy target')

  const json = await cli(t, ['status', '--json'], env)
  assert.equal(json.code, 1)
  const doc = JSON.parse(json.stdout) as { targetGroups: Array<{ name: string; used: boolean }>; transitions: unknown[] }
  assert.deepEqual(doc.targetGroups.map((g) => [g.name, g.used]), [['app', true], ['down', true], ['spare', false]])
  assert.ok(doc.transitions.length >= 5)

  // Colour: forced without a terminal, and NO_COLOR wins over FORCE_COLOR.
  const forced = await cli(t, ['status'], { FULCRUM_ADMIN: env.FULCRUM_ADMIN, FORCE_COLOR: '1' })
  assert.match(forced.stdout, new RegExp(`${app.address.replaceAll('.', '\\.')}\\s+\x1b\\[32mhealthy\x1b\\[39m`))
  assert.match(forced.stdout, /\x1b\[31munhealthy\x1b\[39m/)
  assert.match(forced.stdout, /\x1b\[90munused\x1b\[39m/)
  const noColour = await cli(t, ['status'], { FULCRUM_ADMIN: env.FULCRUM_ADMIN, FORCE_COLOR: '1', NO_COLOR: '1' })
  assert.doesNotMatch(noColour.stdout, /\x1b\[/)

  // Nothing routes to "down" any more: it is unused, so it no longer fails the check.
  dir.write('fulcrum.yaml', config(port, adminPort, app.address, dead, false))
  const reload = await cli(t, ['reload'], env)
  assert.equal(reload.code, 0, reload.output)
  await until(async () => (await cli(t, ['status'], env)).code === 0, 5_000, 'status to exit 0')
  const ok = await cli(t, ['status'], env)
  assert.equal(ok.stderr, '')
  assert.match(ok.stdout, new RegExp(`^down\\s+${dead}\\s+unused`, 'm'))

  // The balancer's logs on a pipe are JSON lines; the reload's says what changed.
  await lb.waitForOutput('"msg":"configuration reloaded"')
  const reloaded = lb.stdout.split('\n').filter((l) => l.includes('"msg":"configuration reloaded"')).map((l) => JSON.parse(l) as Record<string, unknown>)[0]
  assert.deepEqual(reloaded.listenersChanged, ['web'])
  assert.deepEqual(reloaded.changes, ['~ listener web: routes 2 -> 1', '- listener web route 0 (path /down/ -> forward down)'])
  assert.deepEqual([reloaded.listenersAdded, reloaded.targetsAdded, reloaded.targetsChanged], [[], [], []])
})
