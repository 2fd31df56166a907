/**
 * `fulcrum validate -c FILE --diff` against a real `fulcrum start`: after editing the file it runs (add a
 * target, remove a listener, change a weight), and with another file (then routes are compared too, from
 * the running file on disk); targets registered by API are no change; exit 0 when valid, 1 when invalid or when no balancer answers.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { freePort, runFulcrum, spawnFulcrum, tempDir, waitForHttp } from '../helpers/process.ts'

function config(adminPort: number, ports: number[], targets: string, routes = ''): string {
  return `admin: { listen: "127.0.0.1:${adminPort}" }
listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:${ports[0]}
    routes:
${routes}      - forward: app
${ports.length > 1 ? `  - { name: extra, protocol: http, listen: "127.0.0.1:${ports[1]}", routes: [{ forward: app }] }\n` : ''}targetGroups:
  app:
    targets: [${targets}]
`
}

test('validate --diff: what a reload would change, for the edited running file and for another file', async (t) => {
  const [adminPort, web, extra] = [await freePort(), await freePort(), await freePort()]
  const dir = tempDir(t)
  const file = dir.write('fulcrum.yaml', config(adminPort, [web, extra], '127.0.0.1:9001, 127.0.0.1:9002'))
  const lb = spawnFulcrum(t, ['start', '-c', file])
  await waitForHttp(`http://127.0.0.1:${adminPort}/api/v1/status`, 5_000, lb)

  // A target registered through the API stays through a reload: it is no change.
  const add = await runFulcrum(t, ['targets', 'add', 'app', '127.0.0.1:9009', '-c', file])
  assert.equal(add.code, 0, add.stderr)
  const same = await runFulcrum(t, ['validate', '-c', file, '--diff'])
  assert.equal(same.code, 0, same.stderr)
  assert.match(same.stdout, /^ {2}a reload would change nothing$/m)

  // Edited in place: one target more, the extra listener gone, a weight changed.
  dir.write('fulcrum.yaml', config(adminPort, [web], '127.0.0.1:9001, { address: 127.0.0.1:9002, weight: 3 }, 127.0.0.1:9003'))
  const edited = await runFulcrum(t, ['validate', '-c', file, '--diff'])
  assert.equal(edited.code, 0, edited.stderr)
  assert.deepEqual(edited.stdout.trimEnd().split('\n'), [
    `${file}: configuration is valid (1 listener, 1 target group)`,
    `compared with the running balancer at http://127.0.0.1:${adminPort} (pid ${lb.pid}, ${file}):`,
    `  - listener extra (http on 127.0.0.1:${extra})`,
    '  ~ target group app: targets changed',
    '    ~ target app/127.0.0.1:9002: weight 1 -> 3',
    '    + target app/127.0.0.1:9003 (weight 1)',
    `note: the balancer runs ${file} itself, so its running routes, maxConns, backup and other settings are not known (the status API does not report them): only listeners, target groups (algorithm, health check, failOpen, deregistrationDelay) and targets (weight) are compared`,
  ])

  // Another file: the running one, as it is on disk, fills in routes and settings.
  dir.write('fulcrum.yaml', config(adminPort, [web, extra], '127.0.0.1:9001, 127.0.0.1:9002'))
  const other = dir.write('next.yaml', config(adminPort, [web, extra], '127.0.0.1:9001, { address: 127.0.0.1:9002, maxConns: 5 }', '      - { match: { path: /ping }, respond: { body: pong } }\n'))
  const next = await runFulcrum(t, ['validate', '-c', other, '--diff', '--json'])
  assert.equal(next.code, 0, next.stderr)
  const preview = JSON.parse(next.stdout)
  assert.deepEqual([preview.valid, preview.running.pid, preview.notes], [true, lb.pid, []], next.stdout)
  assert.deepEqual(preview.changes, [
    { kind: 'changed', subject: 'listener', name: 'web', detail: 'routes 1 -> 2' },
    { kind: 'added', subject: 'route', name: 'web route 0', detail: 'path /ping -> respond 200 "pong"' },
    { kind: 'changed', subject: 'target group', name: 'app', detail: 'targets changed' },
    { kind: 'changed', subject: 'target', name: 'app/127.0.0.1:9002', detail: 'maxConns 0 -> 5' },
  ])

  const invalid = dir.write('bad.yaml', 'listeners: [{ name: web, protocol: http, listen: 8080, routes: [{ forward: nope }] }]\n')
  const bad = await runFulcrum(t, ['validate', '-c', invalid, '--diff'])
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /target group "nope" does not exist/)
})

test('validate --diff with no balancer to compare with: valid, but exit 1 saying why', async (t) => {
  const adminPort = await freePort()
  const file = tempDir(t).write('fulcrum.yaml', config(adminPort, [await freePort()], '127.0.0.1:9001'))
  const r = await runFulcrum(t, ['validate', '-c', file, '--diff'])
  assert.equal(r.code, 1)
  assert.equal(r.stdout, `${file}: configuration is valid (1 listener, 1 target group)\n`)
  assert.match(r.stderr, new RegExp(`^fulcrum: cannot compare with the running balancer: cannot reach the admin API at http://127\\.0\\.0\\.1:${adminPort}: connection refused`))
  const usage = await runFulcrum(t, ['validate', '-c', file, '--json'])
  assert.equal(usage.code, 2)
})
