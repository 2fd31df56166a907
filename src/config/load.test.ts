import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { formatProblem, loadConfig, parseConfigText } from './load.ts'
import type { LoadResult } from './load.ts'
import { httpListeners } from './schema.ts'

const FIXTURES = resolve(import.meta.dirname, '../../test/fixtures/config')
const fixture = (name: string) => join(FIXTURES, name)

function problems(result: LoadResult): string[] {
  assert.equal(result.ok, false, 'expected the load to fail')
  return result.ok ? [] : result.problems.map(formatProblem)
}

function loaded(result: LoadResult) {
  if (!result.ok) assert.fail(`expected a config, got:\n${result.problems.map(formatProblem).join('\n')}`)
  return result
}

test('the quickstart YAML loads with durations in ms and defaults filled', async () => {
  const { config, warnings } = loaded(await loadConfig(fixture('quickstart.yaml')))
  assert.equal(config.workers, 1)
  assert.equal(config.admin.listen, '127.0.0.1:9090')
  assert.equal(config.dataDir, join(FIXTURES, 'data'))
  assert.equal(config.drainTimeout, 30_000)
  const [web] = httpListeners(config)
  assert.equal(web.listen, 8080)
  assert.equal(web.forwardedHeaders, true)
  assert.deepEqual(web.limits, { maxHeaderBytes: 16_384, maxHeaders: 100, maxUriBytes: 8_192, headerTimeout: 60_000, bodyTimeout: 60_000, keepAliveTimeout: 75_000 })
  assert.deepEqual(web.routes[0], { match: { host: 'api.example.com', path: '/api/' }, forward: 'api' })
  assert.deepEqual(web.routes[1].redirect, { location: 'https://example.com/new/', status: 301 })
  assert.deepEqual(web.routes[2].respond, { status: 200, body: 'pong', contentType: 'text/plain; charset=utf-8', headers: {} })
  assert.deepEqual(web.routes[3], { match: {}, forward: { 'web-blue': 90, 'web-green': 10 } })
  const api = config.targetGroups.api
  assert.deepEqual(api.targets, [
    { address: '127.0.0.1:8081', weight: 1, maxConns: 0, backup: false },
    { address: '127.0.0.1:8082', weight: 3, maxConns: 100, backup: false },
  ])
  assert.deepEqual(api.passive, { maxFails: 1, failTimeout: 10_000 })
  assert.equal(api.retries.timeout, 10_000)
  assert.deepEqual(api.retries.on, ['error', 'timeout', 'http_502', 'http_503', 'http_504'])
  assert.deepEqual(api.timeouts, { connect: 5_000, responseHeader: 60_000, idle: 60_000, keepAlive: 60_000 })
  assert.equal(config.targetGroups['web-blue'].algorithm, 'round-robin')
  assert.equal(config.targetGroups['web-blue'].connections, 128)
  assert.deepEqual(warnings, [
    `${fixture('quickstart.yaml')}:19:14 targetGroups.api.hashKey: hashKey is ignored with algorithm round-robin; only algorithm hash uses it`,
  ])
})

test('the loaded config is frozen', async () => {
  const { config } = loaded(await loadConfig(fixture('quickstart.yaml')))
  assert.ok(Object.isFrozen(config) && Object.isFrozen(httpListeners(config)[0].routes[0].match))
  assert.throws(() => {
    ;(config as { workers: number }).workers = 2
  }, TypeError)
})

test('JSON gives the same config as YAML, and its "$schema" key is ignored', async () => {
  const json = loaded(await loadConfig(fixture('quickstart.json')))
  const yaml = loaded(await loadConfig(fixture('quickstart.yaml')))
  assert.deepEqual(json.config, yaml.config)
})

test('JSON errors carry line and column too', () => {
  const text = '{\n  "listeners": [\n    { "name": "web", "protocol": "http", "listen": "127.0.0.1:99999" }\n  ],\n  "workers": "1"\n}\n'
  assert.deepEqual(problems(parseConfigText(text, 'f.json')), [
    'f.json:5:14 workers: expected a number or "auto", found "1"; write 1 without quotes',
  ])
  const fixed = text.replace('"1"', '1')
  assert.deepEqual(problems(parseConfigText(fixed, 'f.json')), [
    'f.json:3:52 listeners[0].listen: port 99999 is out of range; use a port from 1 to 65535',
  ])
})

test('a fulcrum.config.ts using defineConfig from "fulcrum" loads', async () => {
  const { config } = loaded(await loadConfig(fixture('fulcrum.config.ts')))
  assert.equal(config.dataDir, join(FIXTURES, 'state'))
  assert.equal(config.targetGroups.api.algorithm, 'least-conn')
  assert.deepEqual(config.targetGroups.api.timeouts, { connect: 2_000, responseHeader: 1_500, idle: 60_000, keepAlive: 60_000 })
  assert.deepEqual(config.targetGroups.api.targets[1], { address: '[::1]:8082', weight: 2, maxConns: 0, backup: false })
})

test('problems in a TypeScript config carry the key path but no line', async () => {
  const file = fixture('broken.config.ts')
  assert.deepEqual(problems(await loadConfig(file)), [
    `${file} listeners[0].routes[0].forwrd: unknown key "forwrd"; did you mean "forward"? (expected one of: match, forward, redirect, respond, proxy, addHeaders, access, allow, deny, maxBodyBytes, limits, rateLimit, accessLog)`,
    `${file} targetGroups.api.algorithm: expected one of: round-robin, least-conn, least-time, random, p2c, ip-hash, hash; found "roundrobin"; did you mean "round-robin"?`,
  ])
})

test('a reload sees edits to a TypeScript config', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'fulcrum.config.mjs')
  const write = (port: number) =>
    writeFile(file, `export default { listeners: [{ name: 'web', protocol: 'http', listen: ${port} }] }\n`)
  await write(8080)
  assert.equal(loaded(await loadConfig(file)).config.listeners[0].listen, 8080)
  await write(8081)
  assert.equal(loaded(await loadConfig(file)).config.listeners[0].listen, 8081)
})

test('a module that fails to load or has no default export is a problem', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'none.mjs'), 'export const config = {}\n')
  await writeFile(join(dir, 'throws.mjs'), 'throw new Error("boom")\n')
  assert.deepEqual(problems(await loadConfig(join(dir, 'none.mjs'))), [
    `${join(dir, 'none.mjs')}: the module has no default export; write \`export default defineConfig({ ... })\``,
  ])
  assert.deepEqual(problems(await loadConfig(join(dir, 'throws.mjs'))), [`${join(dir, 'throws.mjs')}: cannot load the module: boom`])
})

test('a missing file names the file and the reason', async () => {
  const file = fixture('does-not-exist.yaml')
  assert.deepEqual(problems(await loadConfig(file)), [`${file}: cannot read the file: no such file or directory (ENOENT)`])
  assert.deepEqual(problems(await loadConfig(FIXTURES + '/.yaml')), [
    `${FIXTURES}/.yaml: unknown file type ""; use .yaml, .yml, .json, .ts, .mts, .js or .mjs`,
  ])
})

test('a directory or an unknown extension is a problem, not a crash', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'conf.yaml'))
  assert.deepEqual(problems(await loadConfig(join(dir, 'conf.yaml'))), [
    `${join(dir, 'conf.yaml')}: cannot read the file: illegal operation on a directory (EISDIR)`,
  ])
  assert.deepEqual(problems(await loadConfig('fulcrum.toml')), [
    'fulcrum.toml: unknown file type ".toml"; use .yaml, .yml, .json, .ts, .mts, .js or .mjs',
  ])
})

test('dataDir is resolved against the config file folder', () => {
  const text = 'dataDir: ../state\nlisteners: [{ name: web, protocol: http, listen: 8080 }]\n'
  const { config } = loaded(parseConfigText(text, '/etc/fulcrum/fulcrum.yaml'))
  assert.equal(config.dataDir, '/etc/state')
  const absolute = loaded(parseConfigText(text.replace('../state', '/var/lib/fulcrum'), '/etc/fulcrum/f.yaml'))
  assert.equal(absolute.config.dataDir, '/var/lib/fulcrum')
})

test('every schema problem in a file is reported in one result, in file order', async () => {
  const file = fixture('broken.yaml')
  assert.deepEqual(problems(await loadConfig(file)), [
    `${file}:8:24 listeners[0].routes[0].match.path: expected text starting with "/", found "api/"; write "/api/"`,
    `${file}:9:9 listeners[0].routes[0].forwrd: unknown key "forwrd"; did you mean "forward"? (expected one of: match, forward, redirect, respond, proxy, addHeaders, access, allow, deny, maxBodyBytes, limits, rateLimit, accessLog)`,
    `${file}:12:16 targetGroups.api.algorithm: expected one of: round-robin, least-conn, least-time, random, p2c, ip-hash, hash; found "roundrobin"; did you mean "round-robin"?`,
    `${file}:15:44 targetGroups.api.targets[1].weight: expected a number, found "3"; write 3 without quotes`,
    `${file}:16:26 targetGroups.api.timeouts.connect: expected a duration such as "500ms", "5s", "1m" or "1h", found "5q"`,
  ])
})

test('cross-field problems read like the style guide example', async () => {
  const text = await readFile(fixture('broken-semantics.yaml'), 'utf8')
  assert.deepEqual(problems(parseConfigText(text, 'quickstart.yaml')), [
    'quickstart.yaml:6:18 listeners[0].routes[0].forward: target group "apii" does not exist; did you mean "api"? (defined: api)',
    'quickstart.yaml:7:13 listeners[1].name: listener name "web" is already used by listeners[0] (line 2); names must be unique',
    'quickstart.yaml:7:42 listeners[1].listen: port 8080 is already used by listener web (line 4)',
    'quickstart.yaml:10:16 targetGroups.api.algorithm: algorithm hash needs a hashKey (header:NAME, cookie:NAME, path or client-ip); add e.g. hashKey: header:x-user-id',
    'quickstart.yaml:14:9 targetGroups.api.targets[2]: "10.0.0.7" has no port; write "10.0.0.7:8080"',
  ])
})
