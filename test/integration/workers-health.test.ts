/**
 * With workers, active health checks run once, in the primary (the control plane), never in the workers:
 * four workers do not mean four times the probes. The states the checks decide reach every worker.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlPlane } from '../../src/control/control-plane.ts'
import { WorkerDataPlane } from '../../src/control/worker-data-plane.ts'
import { ActiveHealthChecker } from '../../src/health/active.ts'
import { silentLogger } from '../../src/log.ts'
import { FileStateStore } from '../../src/state/file-store.ts'
import { startBackends } from '../helpers/backend.ts'
import { parse, simpleConfig } from '../helpers/balancer.ts'
import { startLoad } from '../helpers/load.ts'
import { until } from '../helpers/process.ts'

const INTERVAL = 200

test('four workers: health checks are not multiplied, and their verdicts reach every worker', async (t) => {
  let sick = false
  /** When each backend received each health check. */
  const checks: number[][] = [[], []]
  const bs = await startBackends(2, (req, res, b) => {
    req.resume()
    if (req.url !== '/health') return void res.end(`Response from ${b.port}`)
    checks[bs.indexOf(b)].push(performance.now())
    res.writeHead(sick && b === bs[1] ? 500 : 200).end()
  })
  t.after(() => Promise.all(bs.map((b) => b.close())))
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-workers-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const config = parse(simpleConfig(bs.map((b) => b.address), {
    healthCheck: { interval: `${INTERVAL}ms`, path: '/health', healthyThreshold: 1, unhealthyThreshold: 2 },
  }))
  const log = silentLogger()
  const dataPlane = new WorkerDataPlane({ workers: 4, log })
  const control = new ControlPlane({
    configFile: join(dir, 'fulcrum.yaml'), config, log, dataPlane,
    store: new FileStateStore(dir), checker: (onResult) => new ActiveHealthChecker(onResult),
  })

  await control.start()
  t.after(() => control.stop(1_000))
  assert.equal(dataPlane.workers().length, 4)
  // One prober checks at once and then every 200 ms, so a backend's 6th check comes ~1 s after its first;
  // five probers (the primary and four workers) would make six checks within ~200 ms.
  await until(() => checks.every((c) => c.length >= 6), 10_000, 'six health checks at each backend')
  const spans = checks.map((c) => c[5] - c[0])
  t.diagnostic(`first to sixth health check per backend: ${spans.map(Math.round).join(' ms, ')} ms`)
  for (const span of spans) assert.ok(span >= 5 * INTERVAL * 0.8, `six checks within ${Math.round(span)} ms: someone else probes too`)
  // And over ~1.2 s from the first check, about 6-7 checks (5-8 allowing for timer jitter), not 4x that.
  await until(() => performance.now() - checks[0][0] >= 6 * INTERVAL, 5_000, '1.2 s of checks')
  const counts = checks.map((c) => c.filter((at) => at - c[0] <= 6 * INTERVAL).length)
  for (const n of counts) assert.ok(n >= 5 && n <= 8, `health checks in the first 1.2 s: ${counts.join(', ')}`)

  // A target the primary finds unhealthy gets no traffic from any of the four workers.
  sick = true
  await until(() => control.record('app', bs[1].address)?.state === 'unhealthy', 5_000, 'the target to turn unhealthy')
  const before = bs[1].count
  const result = await startLoad(`http://127.0.0.1:${(await dataPlane.ports()).web}`, { concurrency: 16, maxRequests: 200 }).done
  assert.equal(result.ok, 200)
  const traffic = bs[1].received.slice(before).filter((r) => r.url !== '/health').length
  assert.equal(traffic, 0, 'no worker sends requests to the unhealthy target')
})
