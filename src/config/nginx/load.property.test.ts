/**
 * Whatever the text, the nginx loader answers with a configuration or with problems that say where:
 * never an exception, never a hang. Inputs are random strings and random sequences of nginx-like tokens
 * (which reach much deeper into the checks and the translation than random characters do).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { parseNginxConfigText } from './load.ts'

const TOKENS = [
  'events', 'http', 'server', 'upstream', 'location', 'listen', 'server_name', 'proxy_pass', 'return', 'include',
  'proxy_set_header', 'add_header', 'allow', 'deny', 'access_log', 'log_format', 'client_max_body_size', 'stream',
  'keepalive_timeout', 'proxy_next_upstream', 'hash', 'ip_hash', 'least_conn', 'random', 'two', 'weight=2', 'backup',
  'down', 'max_fails=3', 'fail_timeout=5s', 'default_server', 'ssl', '8080', '127.0.0.1:8081', '[::]:80', 'b',
  'http://b', 'http://b/x/', 'http://127.0.0.1:9', '/', '/a/', '=', '^~', '~', '~*', '\\.php$', '200', '301', '404',
  '"text"', "'q'", '$host', '${uri}', 'off', 'on', 'all', '10.0.0.0/8', '1m', '10s', 'error', 'timeout', '_',
  '*.example.com', '{', '}', ';', ';', ';', '#', '"', "'", '\\', '\n', ' ',
]

/** Random directives (no braces or quotes) inside a valid skeleton: these get through to the translation. */
const WORDS = TOKENS.filter((w) => !'{}#"\'\\;'.includes(w))
const directives = fc.array(fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 4 }).map((w) => `${w.join(' ')};`), { maxLength: 6 })
  .map((lines) => lines.join('\n'))
const skeleton = fc.tuple(directives, directives, directives).map(([u, s, l]) =>
  `events {}\nhttp {\n upstream b { server 127.0.0.1:9; ${u} }\n server { listen 8080; ${s}\n location /a/ { ${l}\n proxy_pass http://b; } } }`)

const text = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 120 }).map((parts) => parts.join(' ')),
  skeleton,
)

test('any text gives a configuration or problems with positions, never an exception', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-fuzz-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'fuzz.conf')
  await fc.assert(fc.asyncProperty(text, async (input) => {
    const result = await parseNginxConfigText(input, file, { resolveHosts: false })
    if (result.ok) {
      assert.ok(result.config.listeners.length > 0)
      return
    }
    assert.ok(result.problems.length > 0)
    for (const p of result.problems) {
      assert.ok(!p.message.startsWith('cannot read the nginx configuration'), `the loader crashed: ${p.message}`)
      assert.equal(p.file, file)
      // Only problems about the file as a whole (no events, no http) or the cap line have no line.
      if (p.line === undefined) assert.match(p.message, /^no "(events|http)"|^…and \d+ more|nothing to serve/, p.message)
      else assert.ok(Number.isInteger(p.line) && p.line >= 1, `line ${p.line}`)
    }
  }), { numRuns: 400 })
})

test('a valid configuration is found among the tokens, so the property reaches translation', async () => {
  const result = await parseNginxConfigText('events {} http { server { listen 8080; location / { return 200 "text"; } } }', '/tmp/x.conf', { resolveHosts: false })
  assert.equal(result.ok, true)
})
