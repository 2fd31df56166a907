import { test } from 'node:test'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStateStore, STATE_FILE } from './file-store.ts'
import { EMPTY_STATE, withRegistered } from './state-store.ts'

const fresh = () => join(mkdtempSync(join(tmpdir(), 'fulcrum-store-')), 'data')

test('a missing file is the empty state; a save is read back', async () => {
  const store = new FileStateStore(fresh())
  assert.deepEqual(await store.load(), EMPTY_STATE)
  const state = withRegistered(EMPTY_STATE, 'app', { address: '127.0.0.1:8085', weight: 2 })
  await store.save(state)
  assert.deepEqual(await new FileStateStore(store.dir).load(), state)
})

test('saves are serialised and leave no temporary files; the last one wins', async () => {
  const store = new FileStateStore(fresh())
  const saves = []
  for (let i = 1; i <= 20; i++) saves.push(store.save(withRegistered(EMPTY_STATE, 'app', { address: `127.0.0.1:${i}`, weight: 1 })))
  await Promise.all(saves)
  assert.deepEqual(readdirSync(store.dir), [STATE_FILE])
  assert.equal((await store.load()).groups.app.added[0].address, '127.0.0.1:20')
})

test('a file that is not a state file is refused with a message that says what to do', async () => {
  const store = new FileStateStore(fresh())
  await store.save(EMPTY_STATE)
  writeFileSync(store.file, '{"nope": true}')
  await assert.rejects(store.load(), /is not a Fulcrum state file \(unknown format\); move it away to start afresh/)
  writeFileSync(store.file, '{"version": 1, "gro')
  await assert.rejects(store.load(), /is not a Fulcrum state file/)
})

test('a process killed while saving leaves the old or the new state, never a torn one', async () => {
  const dir = fresh()
  const saver = `
    import { FileStateStore } from ${JSON.stringify(new URL('./file-store.ts', import.meta.url).href)}
    const store = new FileStateStore(${JSON.stringify(dir)})
    const big = Array.from({ length: 2000 }, (_, i) => ({ address: '127.0.0.1:' + (i + 1), weight: 1 }))
    for (let n = 1; ; n++) {
      await store.save({ version: 1, groups: { app: { added: big.slice(0, 1000 + (n % 1000)), removed: [] } } })
      if (n === 1) process.stdout.write('saved\\n')
    }`
  for (let round = 0; round < 5; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', saver], { stdio: ['ignore', 'pipe', 'inherit'] })
    await once(child.stdout, 'data')
    await new Promise((r) => setTimeout(r, 20 + round * 17))
    child.kill('SIGKILL')
    await once(child, 'exit')
    const state = await new FileStateStore(dir).load()
    const n = state.groups.app.added.length
    assert.ok(n >= 1000 && n < 2000, `a whole state with ${n} targets`)
  }
})
