/**
 * Whatever YAML or JSON text it is given, parseConfigText answers with a frozen Config or with problems, and
 * every problem that names a position names one inside the text: a line that exists and a column on it (or
 * just past its end, where "expected ]" errors point). Inputs are mutations of the quickstart (lines deleted,
 * duplicated, swapped, re-indented, values replaced by odd scalars, keys inserted), mutations of its JSON twin
 * (structurally and as text), and arbitrary strings. load.robust.test.ts covers the "never throws" half for
 * raw bytes and deep nesting; this file adds the positions and inputs that reach the schema and the checks.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import fc from 'fast-check'
import { formatProblem, parseConfigText } from './load.ts'
import type { LoadResult } from './load.ts'

const FIXTURES = resolve(import.meta.dirname, '../../test/fixtures/config')
const QUICKSTART_YAML = readFileSync(resolve(FIXTURES, 'quickstart.yaml'), 'utf8')
const QUICKSTART_JSON = readFileSync(resolve(FIXTURES, 'quickstart.json'), 'utf8')

/** Messages about the file as a whole, which have no position by design. */
const WHOLE_FILE = /^the file is empty|^the file expands aliases|^…and \d+ more problems$|^cannot read the YAML: /

/**
 * The answer is well formed: a frozen config, or 1..51 problems for `file`, none of them the loader's catch-all
 * for an exception, each with a message and either a position or a whole-file message. With `positions`, every
 * line exists in `text` (split at "\n", as yaml counts lines), every column lies on it or just past its end,
 * and an "Unexpected … token …: "x"" problem points at that "x" in the text.
 */
function assertAnswer(text: string, file: string, result: LoadResult, positions: boolean): void {
  if (result.ok) {
    assert.ok(Array.isArray(result.config.listeners), 'a config has listeners')
    assert.ok(Object.isFrozen(result.config), 'the config is frozen')
    return
  }
  assert.ok(result.problems.length > 0, 'not ok, yet no problems')
  assert.ok(result.problems.length <= 51, `${result.problems.length} problems; the cap is 50 and one summary`)
  const lines = text.split('\n')
  for (const p of result.problems) {
    const shown = formatProblem(p)
    assert.equal(p.file, file, shown)
    assert.ok(!p.message.startsWith('cannot read the configuration'), `the loader crashed: ${shown}`)
    assert.equal(typeof p.message, 'string')
    assert.ok(p.message.length > 0, `empty message: ${shown}`)
    if (p.line === undefined) {
      assert.equal(p.column, undefined, `a column without a line: ${shown}`)
      assert.match(p.message, WHOLE_FILE, `a problem without a position: ${shown}`)
      continue
    }
    assert.ok(Number.isInteger(p.line) && p.line >= 1, `line ${p.line}: ${shown}`)
    assert.ok(p.column !== undefined && Number.isInteger(p.column) && p.column >= 1, `column ${p.column}: ${shown}`)
    if (!positions) continue
    assert.ok(p.line <= lines.length, `line ${p.line} outside 1..${lines.length}: ${shown}`)
    const width = lines[p.line - 1].length
    assert.ok(p.column <= width + 1,
      `column ${p.column} outside 1..${width + 1} on line ${p.line} (${JSON.stringify(lines[p.line - 1].slice(0, 80))}): ${shown}`)
    // yaml quotes the token it did not expect: the position must point at that very text.
    const token = /^YAML syntax: Unexpected [\w-]+ token in YAML (?:stream|document): ("(?:[^"\\]|\\.)*")$/.exec(p.message)
    // Tokens yaml makes up while recovering (flow-error-end is "\u0018") are in no text; only real ones are checked.
    if (token !== null && !/^[\u0000-\u001f]/.test(JSON.parse(token[1]) as string)) {
      const expected = JSON.parse(token[1]) as string
      let offset = p.column - 1
      for (let i = 0; i < p.line - 1; i++) offset += lines[i].length + 1
      assert.equal(text.slice(offset, offset + expected.length), expected, `the position does not point at the token: ${shown}`)
    }
  }
}

function check(text: string, file: string, positions: boolean): void {
  let result: LoadResult
  try {
    result = parseConfigText(text, file)
  } catch (err) {
    assert.fail(`parseConfigText threw for ${JSON.stringify(text.slice(0, 300))}: ${(err as Error)?.stack ?? String(err)}`)
  }
  assertAnswer(text, file, result, positions)
}

// ---- Arbitraries -------------------------------------------------------------------------------------------

/** Scalars that YAML reads in surprising ways, plus the types the schema expects in the wrong places. */
const ODD_SCALARS = [
  '', '~', 'null', 'true', 'no', 'off', 'yes', '0', '-1', '1.5', '1e999', '-0', '.nan', '.inf', '0x1F', '0o17',
  '99999999999999999999', '65536', '"8080"', "'x'", '"', "'", '[]', '{}', '[1, 2', '{a: 1', '&a x', '*a', '*nope',
  '!!binary aGVsbG8=', '!!str 1', '!custom x', '|', '>', '- x', '? x', ': x', '#', 'a: b', '"\\u0000"', '"\\x"',
  '127.0.0.1', '127.0.0.1:', ':8080', '[::1]:80', '10s', '5', 'nope', 'round-robin', 'hash', 'http', 'tcp',
  'api', 'web-blue', '/api/', '^(', '*.example.com', '%', '@x', '`x`', '\t', 'x'.repeat(300),
]
const KEYS = [
  'listeners', 'targetGroups', 'routes', 'match', 'forward', 'redirect', 'respond', 'targets', 'address', 'weight',
  'maxConns', 'backup', 'algorithm', 'hashKey', 'passive', 'retries', 'timeouts', 'healthCheck', 'failOpen',
  'workers', 'admin', 'dataDir', 'name', 'protocol', 'listen', 'path', 'host', 'status', 'body', '__proto__',
  'constructor', 'toString', '$schema', 'x', 'forwrd', 'virtualHosts', 'locations', 'location', '<<', '"a b"', '- x',
]

const scalar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_SCALARS) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double().map(String) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
)

/** One edit to a list of lines; indexes are taken modulo the current length, so any edit applies. */
type LineEdit =
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'swap'; at: number; with: number }
  | { kind: 'value'; at: number; value: string }
  | { kind: 'key'; at: number; indent: number; key: string; value: string }
  | { kind: 'indent'; at: number; by: number }
  | { kind: 'tab'; at: number }
  | { kind: 'chars'; at: number; offset: number; cut: number; insert: string }

const lineEdit: fc.Arbitrary<LineEdit> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant('value' as const), at: fc.nat(), value: scalar }),
  fc.record({ kind: fc.constant('value' as const), at: fc.nat(), value: scalar }),
  fc.record({ kind: fc.constant('key' as const), at: fc.nat(), indent: fc.nat(10), key: fc.constantFrom(...KEYS), value: scalar }),
  fc.record({ kind: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -6, max: 6 }) }),
  fc.record({ kind: fc.constant('tab' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('chars' as const), at: fc.nat(), offset: fc.nat(), cut: fc.nat(4),
    insert: fc.oneof(fc.constantFrom(':', ' ', '-', '[', ']', '{', '}', ',', '"', "'", '#', '&', '*', '!', '\r', '\t', '\0', '\n'),
      fc.string({ maxLength: 4 })) }),
)

function applyEdits(original: string, edits: readonly LineEdit[]): string {
  const lines = original.split('\n')
  for (const e of edits) {
    if (lines.length === 0) lines.push('')
    const i = e.at % lines.length
    const line = lines[i]
    switch (e.kind) {
      case 'delete': lines.splice(i, 1); break
      case 'duplicate': lines.splice(i, 0, line); break
      case 'swap': {
        const j = e.with % lines.length
        lines[i] = lines[j]
        lines[j] = line
        break
      }
      case 'value': {
        // The value after "key:" or "- ", else the whole line.
        const m = /^(\s*(?:- )?(?:[^:#\s][^:#]*:\s+)?)(.*)$/s.exec(line) as RegExpExecArray
        lines[i] = m[1] + e.value
        break
      }
      case 'key': lines.splice(i, 0, `${' '.repeat(e.indent)}${e.key}: ${e.value}`); break
      case 'indent': lines[i] = e.by >= 0 ? ' '.repeat(e.by) + line : line.replace(new RegExp(`^ {0,${-e.by}}`), ''); break
      case 'tab': lines[i] = `\t${line}`; break
      case 'chars': {
        const o = e.offset % (line.length + 1)
        lines[i] = line.slice(0, o) + e.insert + line.slice(o + e.cut)
        break
      }
    }
  }
  return lines.join('\n')
}

const mutatedYaml = fc.array(lineEdit, { minLength: 1, maxLength: 6 }).map((edits) => applyEdits(QUICKSTART_YAML, edits))
const mutatedJsonText = fc.array(lineEdit, { minLength: 1, maxLength: 6 }).map((edits) => applyEdits(QUICKSTART_JSON, edits))

/** Structural edits to the parsed quickstart.json: a value replaced, a key deleted or added, at any depth. */
type JsonEdit = { path: readonly number[]; op: 'replace' | 'delete' | 'add'; key: string; value: unknown }
const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record({
  path: fc.array(fc.nat(), { maxLength: 6 }),
  op: fc.constantFrom('replace' as const, 'delete' as const, 'add' as const),
  key: fc.constantFrom(...KEYS),
  value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom<unknown>(0, -1, 1e308, '', '127.0.0.1:0', [], {}, null, true)),
})

function applyJsonEdits(edits: readonly JsonEdit[]): unknown {
  const root: unknown = JSON.parse(QUICKSTART_JSON)
  for (const edit of edits) {
    // Values are cloned: fast-check hands the same constant object to many runs, and edits mutate in place.
    const e = { ...edit, value: structuredClone(edit.value) }
    // Walk down by index into the children (keys in order, or list items); stop at a leaf.
    let parent: Record<string, unknown> | unknown[] | undefined
    let slot: string | number | undefined
    let node: unknown = root
    for (const step of e.path) {
      if (node === null || typeof node !== 'object') break
      const entries = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node)
      if (entries.length === 0) break
      parent = node as Record<string, unknown> | unknown[]
      slot = entries[step % entries.length]
      node = (node as Record<string | number, unknown>)[slot]
    }
    if (e.op === 'add' && node !== null && typeof node === 'object') {
      if (Array.isArray(node)) node.push(e.value)
      else Object.defineProperty(node, e.key, { value: e.value, enumerable: true, writable: true, configurable: true })
    } else if (parent !== undefined && slot !== undefined) {
      if (e.op === 'delete') {
        if (Array.isArray(parent)) parent.splice(slot as number, 1)
        else delete parent[slot as string]
      } else (parent as Record<string | number, unknown>)[slot] = e.value
    }
  }
  return root
}

const mutatedJsonValue = fc.tuple(fc.array(jsonEdit, { minLength: 1, maxLength: 5 }), fc.constantFrom(0, 2, '\t'))
  .map(([edits, indent]) => JSON.stringify(applyJsonEdits(edits), null, indent))

// ---- Properties ----------------------------------------------------------------------------------------------

const yamlStrings = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  // YAML's structural characters reach far deeper into the parser than letters do.
  fc.array(fc.constantFrom('a', 'b', ':', ': ', '- ', '\n', '  ', '\t', '[', ']', '{', '}', ',', '"', "'", '#', '&a ', '*a',
    '!!', '? ', '|', '>', '---\n', '...\n', '%YAML 1.2\n', '\r\n', '\r', '\uFEFF', '\u2028'), { maxLength: 60 })
    .map((parts) => parts.join('')),
)
const jsonStrings = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v, null, 2) ?? ''),
  fc.array(fc.constantFrom('{', '}', '[', ']', ',', ':', '"a"', '"listeners"', '1', 'null', 'true', '\n', ' ', '"', '\\', '\t'),
    { maxLength: 60 }).map((parts) => parts.join('')),
)

test('the fixtures themselves load (so mutations start from a valid config)', () => {
  assert.equal(parseConfigText(QUICKSTART_YAML, 'f.yaml').ok, true)
  assert.equal(parseConfigText(QUICKSTART_JSON, 'f.json').ok, true)
})

test('YAML never throws: the quickstart with lines deleted, duplicated, swapped, re-indented, values and keys replaced', () => {
  fc.assert(fc.property(mutatedYaml, (text) => check(text, 'f.yaml', false)), { numRuns: 1_000 })
})

test('YAML never throws: arbitrary strings (UTF-16 units, code points, graphemes, YAML punctuation)', () => {
  fc.assert(fc.property(yamlStrings, (text) => check(text, 'f.yaml', false)), { numRuns: 1_000 })
})

test('JSON never throws: quickstart.json with structural edits, with line edits, and arbitrary strings', () => {
  fc.assert(fc.property(mutatedJsonValue, (text) => check(text, 'f.json', false)), { numRuns: 400 })
  fc.assert(fc.property(mutatedJsonText, (text) => check(text, 'f.json', false)), { numRuns: 400 })
  fc.assert(fc.property(jsonStrings, (text) => check(text, 'f.json', false)), { numRuns: 600 })
})

// Known to fail (reported): yaml's LineCounter misses the line starts inside a token that spans lines in its
// error recovery (an "Unexpected scalar token" running over a newline, an unclosed quote swallowing the rest of
// the file), so every later position is one line short per such token: '""}x\n{:' reports the ":" (2:2) on
// line 1. Positions must be counted from the text itself.
test('YAML and JSON: every problem\'s line and column lie inside the text, at the token it names', () => {
  fc.assert(fc.property(fc.oneof(mutatedYaml, yamlStrings), (text) => check(text, 'f.yaml', true)), { numRuns: 1_000 })
  fc.assert(fc.property(fc.oneof(mutatedJsonValue, mutatedJsonText, jsonStrings), (text) => check(text, 'f.json', true)),
    { numRuns: 1_000 })
})

// The first two fail today (lines lost inside a multi-line error token); the last two once ran past the text.
const KNOWN = [['""}x\n{:', 'f.json'], ['workers: 1\n}x\n  {: 1\nlisteners: 2\n', 'f.yaml'], ['b: { c: "d"\' }\nx: 1\n', 'f.yaml'], [': [}>%YAML 1.2\n', 'f.yaml']]
for (const [text, file] of KNOWN) {
  test(`positions, a smallest known case: ${JSON.stringify(text)}`, () => check(text, file, true))
}
