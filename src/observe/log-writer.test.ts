import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LineWriter } from './log-writer.ts'

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-log-writer-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface Report { message: string; code: string | undefined; dropped: number }

function writer(path: string, now: () => number = Date.now): { w: LineWriter; errors: Report[]; recovered: number[] } {
  const errors: Report[] = []
  const recovered: number[] = []
  const w = new LineWriter({
    path, now,
    onError: (message, err, dropped) => errors.push({ message, code: err?.code, dropped }),
    onRecover: (dropped) => recovered.push(dropped),
  })
  return { w, errors, recovered }
}

/** Resolves once `check` holds, polling each turn of the event loop (the writer works on the thread pool). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('lines are appended in order, creating the folder; close writes what is queued', async (t) => {
  const file = join(tempDir(t), 'sub', 'dir', 'access.log')
  const { w, errors } = writer(file)
  // 2 MB in one turn: several writes of whole lines, the queue compacted on the way.
  const pad = 'x'.repeat(90)
  for (let i = 0; i < 20_000; i++) w.write(`line ${i} ${pad}\n`)
  await w.close()
  const lines = readFileSync(file, 'utf8').split('\n')
  assert.equal(lines.length, 20_001)
  assert.ok(lines.slice(0, -1).every((l, i) => l === `line ${i} ${pad}`))
  assert.deepEqual(errors, [])
})

test('reopen: after a rename, new lines go to a new file at the original path', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'access.log')
  const { w } = writer(file)
  w.write('before\n')
  await until(() => existsSync(file) && readFileSync(file, 'utf8') === 'before\n', 'the first line')
  renameSync(file, `${file}.1`)
  w.reopen()
  w.write('after\n')
  await w.close()
  assert.equal(readFileSync(`${file}.1`, 'utf8'), 'before\n')
  assert.equal(readFileSync(file, 'utf8'), 'after\n')
})

test('a full disk drops lines and is reported once per minute; writing goes on', async (t) => {
  let now = 0
  const { w, errors } = writer('/dev/full', () => now)
  t.after(() => w.close())
  w.write('a\n')
  await until(() => errors.length === 1, 'the first report')
  assert.equal(errors[0].code, 'ENOSPC')
  assert.equal(errors[0].dropped, 1)
  for (let i = 0; i < 20; i++) {
    w.write('b\n')
    await until(() => w.idle, 'the write to fail')
  }
  assert.equal(errors.length, 1, 'rate limited')
  now = 61_000
  w.write('c\n')
  await until(() => errors.length === 2, 'the report a minute later')
  assert.ok(errors[1].dropped >= 21, `dropped counted: ${errors[1].dropped}`)
})

test('a path that cannot be opened is reported; after the problem is fixed, reopen writes again', async (t) => {
  const dir = tempDir(t)
  // A file where the folder should be: neither mkdir nor open can succeed.
  writeFileSync(join(dir, 'logs'), 'not a folder')
  const file = join(dir, 'logs', 'access.log')
  const { w, errors, recovered } = writer(file)
  await until(() => errors.length === 1, 'the open failure')
  assert.match(errors[0].message, /cannot open access log/)
  assert.equal(errors[0].code, 'ENOTDIR')
  w.write('lost\n')
  await until(() => w.queued === 0, 'the line to be dropped')
  rmSync(join(dir, 'logs'))
  w.reopen()
  w.write('kept\n')
  await w.close()
  assert.equal(readFileSync(file, 'utf8'), 'kept\n')
  assert.deepEqual(recovered, [1], 'recovery reported with the line lost meanwhile')
})
