/**
 * `npm start` as a newcomer runs it: scripts/quickstart.ts starts four demo backends on 8081-8084 and
 * the balancer on 8080; four GETs answer from 8081, 8082, 8083, 8084 in that order; Ctrl-C (SIGINT)
 * stops all five processes. The ports are fixed by the quick start itself (and the admin API's default
 * 9090), so when one is taken the test is skipped (saying which), except on CI, where it must run.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import type { Child } from '../helpers/process.ts'
import { portIsFree, spawnNode, tryConnect, until, waitForListening } from '../helpers/process.ts'

const BALANCER = 8080
const BACKENDS = [8081, 8082, 8083, 8084]
/** examples/quickstart.yaml keeps the admin API's default address, 127.0.0.1:9090. */
const ADMIN = 9090
const PORTS = [BALANCER, ...BACKENDS, ADMIN]

/**
 * The quick start's children run in their own process groups, so when the test fails before the script
 * stopped them, kill each by its pid: the script's children as /proc lists them, and the pids they printed
 * (backends: "(pid N)"; the balancer's JSON logs: "pid":N). Runs before the script itself is killed,
 * which would orphan them. After a clean exit 0 the script has already waited for every child.
 */
function killChildren(quickstart: Child): void {
  if (quickstart.exit?.code === 0) return
  const pids = new Set<number>(quickstart.running ? quickstart.children() : [])
  for (const m of quickstart.stdout.matchAll(/\(pid (\d+)\)|"pid":(\d+)/g)) pids.add(Number(m[1] ?? m[2]))
  pids.delete(quickstart.pid)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

test('npm start: four backends answer in turn through :8080, and Ctrl-C stops everything', async (t) => {
  for (const port of PORTS) {
    if (await portIsFree(port)) continue
    if (process.env.CI === 'true') assert.fail(`port ${port} is busy; the quick start needs ${PORTS.join(', ')} free on CI`)
    t.skip(`port ${port} is busy; the quick start needs ${PORTS.join(', ')}`)
    return
  }
  const quickstart = spawnNode(t, ['scripts/quickstart.ts'], 'quickstart', killChildren)
  // Connect only (no request), so no round-robin turn is used before the four GETs.
  for (const port of [...BACKENDS, BALANCER, ADMIN]) await waitForListening(port, 8_000, quickstart)

  const bodies: string[] = []
  for (let i = 0; i < 4; i++) {
    const res = await request(`http://127.0.0.1:${BALANCER}/`)
    assert.equal(res.statusCode, 200)
    bodies.push(await res.body.text())
  }
  assert.deepEqual(bodies, BACKENDS.map((p) => `Response from ${p}`), quickstart.output)

  quickstart.signal('SIGINT')
  assert.deepEqual(await quickstart.waitForExit(8_000), { code: 0, signal: null }, quickstart.output)
  for (const port of PORTS) {
    await until(async () => (await tryConnect(port)) === 'refused', 3_000, `port ${port} to refuse connections after Ctrl-C`)
  }
})
