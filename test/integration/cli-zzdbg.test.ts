/**
 * `npm start` as a newcomer runs it: scripts/quickstart.ts starts four demo backends on 8081-8084 and
 * the balancer on 8080; four GETs answer from 8081, 8082, 8083, 8084 in that order; Ctrl-C (SIGINT)
 * stops all five processes. The ports are fixed by the quick start itself, so when one is taken the test
 * is skipped (saying which), except on CI, where it must run.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import type { Child } from '../helpers/process.ts'
import { portIsFree, spawnNode, tryConnect, until, waitForListening } from '../helpers/process.ts'

const BALANCER = 8080
const BACKENDS = [8081, 8082, 8083, 8084]

/**
 * The quick start's children run in their own process groups, so if the test fails before the script
 * stops them, kill each by the pid it printed (backends: "(pid N)"; the balancer's JSON logs: "pid":N).
 */
function killChildrenAfter(t: TestContext, quickstart: Child): void {
  t.after(async () => {
    const pids = new Set<number>()
    for (const m of quickstart.stdout.matchAll(/\(pid (\d+)\)|"pid":(\d+)/g)) pids.add(Number(m[1] ?? m[2]))
    pids.delete(quickstart.pid)
    await quickstart.kill()
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone: the normal case.
      }
    }
  })
}

test('npm start: four backends answer in turn through :8080, and Ctrl-C stops everything', async (t) => {
  for (const port of [BALANCER, ...BACKENDS]) {
    if (await portIsFree(port)) continue
    if (process.env.CI === 'true') assert.fail(`port ${port} is busy; the quick start needs 8080-8084 free on CI`)
    t.skip(`port ${port} is busy; the quick start needs 8080-8084`)
    return
  }
  const quickstart = spawnNode(t, ['scripts/quickstart.ts'], 'quickstart')
  killChildrenAfter(t, quickstart)
  // Connect only (no request), so no round-robin turn is used before the four GETs.
  for (const port of [...BACKENDS, BALANCER]) await waitForListening(port, 8_000, quickstart)

  const bodies: string[] = []
  for (let i = 0; i < 4; i++) {
    const res = await request(`http://127.0.0.1:${BALANCER}/`)
    assert.equal(res.statusCode, 200)
    bodies.push(await res.body.text())
  }
  assert.deepEqual(bodies.reverse(), BACKENDS.map((p) => `Response from ${p}`), quickstart.output)

  quickstart.signal('SIGINT')
  assert.deepEqual(await quickstart.waitForExit(8_000), { code: 0, signal: null }, quickstart.output)
  for (const port of [BALANCER, ...BACKENDS]) {
    await until(async () => (await tryConnect(port)) === 'refused', 3_000, `port ${port} to refuse connections after Ctrl-C`)
  }
})
