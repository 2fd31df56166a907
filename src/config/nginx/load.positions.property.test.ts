/**
 * Mutated real configurations (the nginx corpus, the seeds and the golden inputs) give a configuration or
 * problems, never an exception, and every line a problem or warning names exists in the file it names: the
 * text itself for the main file, the file on disk for an included one. load.property.test.ts only checks
 * that lines are positive; mutations of whole files reach the translation and the checks with far more
 * realistic input than random tokens, so they are where a line from the wrong directive (or file) would show.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import fc from 'fast-check'
import type { ConfigProblem } from '../problem.ts'
import { parseNginxConfigText } from './load.ts'

const ROOT = resolve(import.meta.dirname, '../../..')
const CORPUS = join(ROOT, 'test/nginx-corpus')
const GOLDEN = join(ROOT, 'test/fixtures/nginx/golden')

interface Seed {
  readonly name: string
  /** Where the text is parsed as if read from: includes resolve relative to it. */
  readonly file: string
  readonly text: string
}

function seeds(): Seed[] {
  const out: Seed[] = []
  for (const name of readdirSync(CORPUS).filter((f) => f.endsWith('.conf')).sort()) {
    out.push({ name, file: join(CORPUS, name), text: readFileSync(join(CORPUS, name), 'utf8') })
  }
  for (const name of readdirSync(GOLDEN).filter((f) => f.endsWith('.nginxtest')).sort()) {
    // A golden file is the nginx input, a line of dashes, then the expected output.
    const input = readFileSync(join(GOLDEN, name), 'utf8').split(/^-{10,}\n/m)[0]
    out.push({ name, file: join(GOLDEN, name.replace(/\.nginxtest$/, '.conf')), text: input })
  }
  for (const rel of ['test/fixtures/nginx/seed-001.conf', 'test/fixtures/nginx/seed-002/nginx.conf']) {
    out.push({ name: rel, file: join(ROOT, rel), text: readFileSync(join(ROOT, rel), 'utf8') })
  }
  return out
}
const SEEDS = seeds()

/** Words that make sense in some nginx context, for replacing and inserting (no `include`: no reading at random). */
const WORDS = [
  'events', 'http', 'server', 'upstream', 'location', 'listen', 'server_name', 'proxy_pass', 'return', 'stream',
  'proxy_set_header', 'add_header', 'allow', 'deny', 'access_log', 'log_format', 'client_max_body_size', 'ssl',
  'keepalive_timeout', 'proxy_next_upstream', 'hash', 'ip_hash', 'least_conn', 'random', 'two', 'weight=0',
  'weight=2', 'weight=-1', 'backup', 'down', 'max_fails=3', 'max_fails=x', 'fail_timeout=5s', 'max_conns=1',
  'default_server', '8080', '0', '65536', '127.0.0.1:8081', '[::]:80', '[::1', 'b', 'http://b', 'http://b/x/',
  'https://b', 'http://127.0.0.1:9', 'unix:/tmp/s', '/', '/a/', '=', '^~', '~', '~*', '\\.php$', '(', '200', '301',
  '404', '999', '"text"', "'q'", '$host', '${uri}', '$', 'off', 'on', 'all', '10.0.0.0/8', '10.0.0.0/33', '1m',
  '10s', '-1s', 'error', 'timeout', 'http_502', '_', '*.example.com', 'a*b', '~^(?P<x>.+)$', 'proxy_http_version',
  '1.1', 'ssl_certificate', 'cert.pem', 'if', 'rewrite', 'set', 'map', 'geo', 'worker_processes', 'auto',
]
const PUNCTUATION = ['{', '}', ';', '"', "'", '#', '\\', '\r', '\t', '\0', '\n', ' ', '{}', ';;', '}}', '\\"']

type Edit =
  | { kind: 'delete' | 'duplicate' | 'join'; at: number }
  | { kind: 'swap'; at: number; with: number }
  | { kind: 'word'; at: number; word: number; text: string }
  | { kind: 'directive'; at: number; words: string[] }
  | { kind: 'chars'; at: number; offset: number; cut: number; insert: string }

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete' as const, 'duplicate' as const, 'join' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), word: fc.nat(), text: fc.oneof(fc.constantFrom(...WORDS), fc.string({ maxLength: 6 })) }),
  fc.record({ kind: fc.constant('directive' as const), at: fc.nat(), words: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('chars' as const), at: fc.nat(), offset: fc.nat(), cut: fc.nat(3),
    insert: fc.oneof(fc.constantFrom(...PUNCTUATION), fc.string({ maxLength: 3 })) }),
)

function mutate(text: string, edits: readonly Edit[]): string {
  const lines = text.split('\n')
  for (const e of edits) {
    if (lines.length === 0) lines.push('')
    const i = e.at % lines.length
    const line = lines[i]
    switch (e.kind) {
      case 'delete': lines.splice(i, 1); break
      case 'duplicate': lines.splice(i, 0, line); break
      case 'join': if (i + 1 < lines.length) lines.splice(i, 2, `${line} ${lines[i + 1]}`); break
      case 'swap': {
        const j = e.with % lines.length
        lines[i] = lines[j]
        lines[j] = line
        break
      }
      case 'word': {
        // Replace the n-th whitespace-separated word of the line, keeping the rest as written.
        const words = line.split(/(\s+)/)
        const slots = words.map((w, k) => (w.trim() === '' ? -1 : k)).filter((k) => k >= 0)
        if (slots.length === 0) lines[i] = e.text
        else words[slots[e.word % slots.length]] = e.text
        if (slots.length > 0) lines[i] = words.join('')
        break
      }
      case 'directive': lines.splice(i, 0, `    ${e.words.join(' ')};`); break
      case 'chars': {
        const o = e.offset % (line.length + 1)
        lines[i] = line.slice(0, o) + e.insert + line.slice(o + e.cut)
        break
      }
    }
  }
  return lines.join('\n')
}

const input = fc.tuple(fc.nat(SEEDS.length - 1), fc.array(edit, { minLength: 1, maxLength: 5 }))
  .map(([s, edits]) => ({ seed: SEEDS[s], text: mutate(SEEDS[s].text, edits) }))

/** Only problems about the file as a whole, or the cap line, may lack a line (as load.property.test.ts has it). */
const WITHOUT_LINE = /^no "(events|http)"|^…and \d+ more|nothing to serve|^accepted, but change nothing in Fulcrum/

const diskLines = new Map<string, number>()
function lineCount(file: string, main: string, text: string): number {
  if (file === main) return text.split('\n').length
  let n = diskLines.get(file)
  if (n === undefined) {
    n = readFileSync(file, 'utf8').split('\n').length
    diskLines.set(file, n)
  }
  return n
}

function assertPositions(problems: readonly ConfigProblem[], main: string, text: string, kind: string): void {
  for (const p of problems) {
    const shown = `${kind} ${p.file}:${p.line ?? '-'}: ${p.message}`
    assert.ok(!p.message.includes('cannot read the nginx configuration'), `the loader crashed: ${shown}`)
    if (p.line === undefined) {
      assert.match(p.message, WITHOUT_LINE, `no line: ${shown}`)
      continue
    }
    const lines = lineCount(p.file, main, text)
    assert.ok(Number.isInteger(p.line) && p.line >= 1 && p.line <= lines, `line outside 1..${lines}: ${shown}`)
    if (p.column !== undefined) assert.ok(Number.isInteger(p.column) && p.column >= 1, `column ${p.column}: ${shown}`)
  }
}

test('every seed loads as it is (the mutations start from real, mostly valid files)', async () => {
  assert.ok(SEEDS.length >= 30, `${SEEDS.length} seeds`)
  for (const seed of SEEDS) {
    const result = await parseNginxConfigText(seed.text, seed.file, { resolveHosts: false })
    if (!result.ok) assertPositions(result.problems, seed.file, seed.text, `${seed.name} (unmutated)`)
    else assertPositions(result.warnings, seed.file, seed.text, `${seed.name} (unmutated, warning)`)
  }
})

test('mutated corpus files: never an exception; every problem and warning line exists in its file', async () => {
  await fc.assert(fc.asyncProperty(input, async ({ seed, text }) => {
    let result: Awaited<ReturnType<typeof parseNginxConfigText>>
    try {
      result = await parseNginxConfigText(text, seed.file, { resolveHosts: false })
    } catch (err) {
      assert.fail(`parseNginxConfigText threw for ${seed.name}: ${(err as Error)?.stack ?? String(err)}`)
    }
    if (result.ok) {
      assert.ok(result.config.listeners.length > 0, `${seed.name}: a config without listeners`)
      assertPositions(result.warnings, seed.file, text, 'warning')
      return
    }
    assert.ok(result.problems.length > 0 && result.problems.length <= 51, `${result.problems.length} problems`)
    assertPositions(result.problems, seed.file, text, 'problem')
  }), { numRuns: 1_500 })
})
