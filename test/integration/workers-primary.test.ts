/**
 * Workers must not outlive their primary: when it dies (SIGKILL: no chance to stop them), each worker
 * sees its IPC channel close, drains and exits. The primary here is a child process so it can be killed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startBackends } from '../helpers/backend.ts'
import { simpleConfig } from '../helpers/balancer.ts'
import { ROOT, spawnNode, until } from '../helpers/process.ts'

const PRIMARY = `
const { WorkerDataPlane } = await import(${JSON.stringify(`${ROOT}src/control/worker-data-plane.ts`)})
const { configSchema } = await import(${JSON.stringify(`${ROOT}src/config/schema.ts`)})
const { silentLogger } = await import(${JSON.stringify(`${ROOT}src/log.ts`)})
const plane = new WorkerDataPlane({ workers: 2, log: silentLogger() })
await plane.start(configSchema.parse(JSON.parse(process.env.FULCRUM_TEST_CONFIG)), [])
console.log(JSON.stringify({ pids: plane.workers().map((w) => w.pid), port: (await plane.ports()).web }))
`

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

test('workers drain and exit when their primary dies', async (t) => {
  const [backend] = await startBackends(1)
  t.after(() => backend.close())
  process.env.FULCRUM_TEST_CONFIG = JSON.stringify({ ...simpleConfig([backend.address]), drainTimeout: '500ms' })
  const primary = spawnNode(t, ['--input-type=module', '-e', PRIMARY], 'primary')
  delete process.env.FULCRUM_TEST_CONFIG
  await primary.waitForOutput('"pids"', 15_000)
  const { pids, port } = JSON.parse(primary.stdout.trim().split('\n').at(-1) as string) as { pids: number[]; port: number }
  // Whatever happens below, no worker outlives the test.
  t.after(() => { for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL') })
  assert.equal(pids.length, 2)
  const res = await request(`http://127.0.0.1:${port}/`)
  assert.equal(await res.body.text(), `Response from ${backend.port}`)

  primary.signal('SIGKILL')
  await until(() => !pids.some(alive), 5_000, 'both workers to exit after their primary died')
})
