// Whatever the input, the loader answers with a Config or problems; it never throws.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { formatProblem, loadConfig, parseConfigText } from './load.ts'
import type { LoadResult } from './load.ts'

const QUICKSTART = resolve(import.meta.dirname, '../../test/fixtures/config/quickstart.yaml')

/** A well-formed answer: problems, each printable with a file name, or a config. */
function assertAnswer(result: LoadResult): void {
  if (result.ok) return
  assert.ok(result.problems.length > 0 && result.problems.length <= 51)
  for (const p of result.problems) assert.ok(formatProblem(p).startsWith('f.yaml'))
}

test('random bytes', () => {
  for (let i = 0; i < 200; i++) {
    const bytes = randomBytes(1 + (i % 64) * 16)
    assertAnswer(parseConfigText(bytes.toString('latin1'), 'f.yaml'))
    assertAnswer(parseConfigText(bytes.toString('utf8'), 'f.yaml'))
  }
})

test('deep nesting', () => {
  for (const depth of [100, 2_000, 20_000]) {
    assertAnswer(parseConfigText('['.repeat(depth) + ']'.repeat(depth), 'f.yaml'))
    assertAnswer(parseConfigText('- '.repeat(depth) + 'x', 'f.yaml'))
    assertAnswer(parseConfigText(`listeners: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`, 'f.yaml'))
    assertAnswer(parseConfigText('{"a":'.repeat(depth) + '1' + '}'.repeat(depth), 'f.yaml'))
  }
})

test('huge numbers, huge strings, odd scalars', () => {
  const listener = (listen: string) => `listeners: [{ name: web, protocol: http, listen: ${listen} }]\n`
  for (const text of [
    `workers: 1e999\n${listener('8080')}`,
    listener('99999999999999999999999'),
    listener('-0'),
    listener('.nan'),
    listener('0x1F90'),
    `${listener('8080')}drainTimeout: 1e308\n`,
    `${listener('8080')}drainTimeout: 9999999999999999999999h\n`,
    `${listener('8080')}targetGroups: { a: { targets: [{ address: "a:1", weight: -1e308 }] } }\n`,
    listener(`"${'x'.repeat(1_000_000)}"`),
    `${'k'.repeat(100_000)}: 1\n`,
    'listeners: [{ name: ~, protocol: ~, listen: ~, routes: ~ }]\n',
    'listeners: !!binary aGVsbG8=\n',
    '%YAML 9.9\n---\nworkers: 1\n',
    '\uFEFFlisteners: []\n',
  ]) assertAnswer(parseConfigText(text, 'f.yaml'))
})

test('any string (fast-check)', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => assertAnswer(parseConfigText(text, 'f.yaml'))), {
    numRuns: 300,
  })
})

test('any JSON value (fast-check)', () => {
  fc.assert(fc.property(fc.jsonValue(), (value) => assertAnswer(parseConfigText(JSON.stringify(value) ?? '', 'f.yaml'))), {
    numRuns: 300,
  })
})

test('the quickstart with random edits (fast-check)', async () => {
  const original = await readFile(QUICKSTART, 'utf8')
  const edit = fc.record({ at: fc.nat(original.length), cut: fc.nat(8), insert: fc.string({ maxLength: 4 }) })
  fc.assert(
    fc.property(fc.array(edit, { maxLength: 4 }), (edits) => {
      let text = original
      for (const e of edits) text = text.slice(0, e.at) + e.insert + text.slice(e.at + e.cut)
      assertAnswer(parseConfigText(text, 'f.yaml'))
    }),
    { numRuns: 300 },
  )
})

test('a code config whose values throw when read is a problem, not a crash', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'evil.mjs')
  await writeFile(file, 'export default { get listeners() { throw new Error("gotcha") } }\n')
  const result = await loadConfig(file)
  assert.equal(result.ok, false)
  assert.match(result.ok ? '' : formatProblem(result.problems[0]), /gotcha/)
})
