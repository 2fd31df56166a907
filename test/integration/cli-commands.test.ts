/**
 * The `fulcrum` command line as a user meets it, run as a real child process: --help, --version, usage
 * errors (exit 2), `validate` (exit 0 with one line, or 1 with every problem as FILE:LINE:COL path: message)
 * and `start` refusing a broken file or a port in use (exit 1, nothing left listening).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { freePort, ROOT, runFulcrum, spawnCommand, tempDir, tryConnect, yamlConfig } from '../helpers/process.ts'

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '')

test('--help exits 0 and lists the start and validate commands', async (t) => {
  const r = await runFulcrum(t, ['--help'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^\s+fulcrum start -c FILE/m)
  assert.match(r.stdout, /^\s+fulcrum validate -c FILE/m)
  assert.equal(r.stderr, '')
})

test('--version prints the version from package.json', async (t) => {
  const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }
  const r = await runFulcrum(t, ['--version'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, `fulcrum ${version}\n`)
})

test('bin/fulcrum.js runs with the node on PATH (re-running itself on Node 24 when that node is older)', async (t) => {
  const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }
  const launcher = spawnCommand(t, 'node', ['bin/fulcrum.js', '--version'], 'node bin/fulcrum.js --version')
  const exit = await launcher.waitForExit(10_000)
  if (exit.code === null && /ENOENT/.test(launcher.stderr)) return t.skip('no "node" on PATH')
  assert.deepEqual(exit, { code: 0, signal: null }, launcher.output)
  assert.equal(launcher.stdout, `fulcrum ${version}\n`)
})

test('an unknown command, an unknown option or a missing -c exits 2 with a message', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['bogus'], /unknown command "bogus".*start, validate/],
    [['start', '--bogus'], /--bogus/],
    [['start'], /start needs -c FILE/],
    [['validate'], /validate needs -c FILE/],
  ]
  const results = await Promise.all(cases.map(([args]) => runFulcrum(t, args)))
  for (const [i, [args, message]] of cases.entries()) {
    const r = results[i]
    assert.equal(r.code, 2, `fulcrum ${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, message)
    assert.match(r.stderr, /fulcrum --help/)
    assert.equal(r.stdout, '')
  }
})

test('validate: a valid file gives exit 0 and one line saying it is valid', async (t) => {
  const file = tempDir(t).write('fulcrum.yaml', yamlConfig(await freePort(), ['127.0.0.1:1', '127.0.0.1:2']))
  const r = await runFulcrum(t, ['validate', '-c', file])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(lines(r.stdout).length, 1, r.stdout)
  assert.match(r.stdout, new RegExp(`^${escape(file)}: .*\\bvalid\\b`))
  assert.equal(r.stderr, '')
})

// Line numbers below are the 1-based lines of this text.
const BROKEN = `listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:1
    colour: blue
    routes:
      - forward: app
targetGroups:
  app:
    targets: [127.0.0.1:1]
    timeouts: { connect: 5q }
`

test('validate: a broken file gives exit 1 and every problem as FILE:LINE:COL path: message', async (t) => {
  const file = tempDir(t).write('broken.yaml', BROKEN)
  const r = await runFulcrum(t, ['validate', '-c', file])
  assert.equal(r.code, 1, r.stderr)
  assert.equal(r.stdout, '')
  const problems = lines(r.stderr).filter((l) => l.startsWith(`${file}:`) && !l.startsWith(`${file}: `))
  assert.deepEqual(problems.map((l) => l.replace(/:\s.*$/, ':')), [`${file}:5:5 listeners[0].colour:`, `${file}:11:26 targetGroups.app.timeouts.connect:`], r.stderr)
  assert.match(problems[0], /unknown key "colour"/)
  assert.match(problems[1], /"5q"/)
  assert.match(r.stderr, /2 problems/)
})

// Both problems are semantic (found after the schema passed), so both are reported.
const BROKEN_REFERENCES = `listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:1
    routes:
      - match: { path: /api/ }
        forward: api
      - forward: appp
targetGroups:
  app:
    targets: [127.0.0.1:1]
`

test('validate: two routes forwarding to missing groups are both reported with their lines', async (t) => {
  const file = tempDir(t).write('refs.yaml', BROKEN_REFERENCES)
  const r = await runFulcrum(t, ['validate', '-c', file])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`^${escape(file)}:7:18 listeners\\[0\\]\\.routes\\[0\\]\\.forward: .*"api" does not exist`, 'm'))
  assert.match(r.stderr, new RegExp(`^${escape(file)}:8:18 listeners\\[0\\]\\.routes\\[1\\]\\.forward: .*"appp" does not exist`, 'm'))
})

const UNKNOWN_KEY_AND_MISSING_GROUP = `listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:1
    colour: blue
    routes:
      - forward: missing
targetGroups:
  app:
    targets: [127.0.0.1:1]
`

test('validate: an unknown key and a route to a missing group are reported together', async (t) => {
  const file = tempDir(t).write('mixed.yaml', UNKNOWN_KEY_AND_MISSING_GROUP)
  const r = await runFulcrum(t, ['validate', '-c', file])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`^${escape(file)}:5:5 listeners\\[0\\]\\.colour: unknown key "colour"`, 'm'))
  assert.match(r.stderr, new RegExp(`^${escape(file)}:7:18 listeners\\[0\\]\\.routes\\[0\\]\\.forward: .*"missing" does not exist`, 'm'))
})

test('start: a broken file gives exit 1 with its problems, and nothing listens', async (t) => {
  const port = await freePort()
  const text = yamlConfig(port, ['127.0.0.1:1']).replace('forward: app', 'forward: nope')
  const line = text.split('\n').findIndex((l) => l.includes('forward: nope')) + 1
  const file = tempDir(t).write('broken.yaml', text)
  const r = await runFulcrum(t, ['start', '-c', file])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`^${escape(file)}:${line}:18 listeners\\[0\\]\\.routes\\[0\\]\\.forward: .*"nope" does not exist`, 'm'))
  assert.match(r.stderr, /not started/)
  assert.equal(await tryConnect(port), 'refused')
})

test('start: a port already in use gives exit 1 and a message naming the port', async (t) => {
  const blocker = createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.after(() => blocker.close())
  const port = (blocker.address() as { port: number }).port
  const file = tempDir(t).write('fulcrum.yaml', yamlConfig(port, ['127.0.0.1:1']))
  const r = await runFulcrum(t, ['start', '-c', file])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}\\b.*already in use`))
})
