import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { test } from 'node:test'
import { configSchema, type ConfigInput } from '../config/schema.ts'
import { resolveWorkers } from './worker-data-plane.ts'
import { replyKey, requestKey, workerSnapshot, type FromWorker, type ToWorker } from './worker-protocol.ts'

const config = configSchema.parse({
  listeners: [
    { name: 'zero', protocol: 'http', listen: '127.0.0.1:0', routes: [{ forward: 'app' }] },
    { name: 'all', protocol: 'http', listen: '*:0', routes: [{ forward: 'app' }] },
    { name: 'fixed', protocol: 'http', listen: '127.0.0.1:8080', routes: [{ forward: 'app' }] },
  ],
  targetGroups: {
    app: {
      targets: ['10.0.0.1:80', { address: '10.0.0.2:80', maxConns: 10 }, { address: '10.0.0.3:80', maxConns: 1 }],
      retries: { budget: { ratio: 0.2, minPerSecond: 10 } },
    },
  },
} satisfies ConfigInput)

test('a snapshot gives port-0 listeners the reserved port, by listener name', () => {
  const ports = new Map([['zero', 41001], ['all', 41002], ['fixed', 1]])
  const snapshot = workerSnapshot(config, 2, ports)
  assert.deepEqual(snapshot.listeners.map((l) => l.listen), ['127.0.0.1:41001', '*:41002', '127.0.0.1:8080'])
  assert.deepEqual(workerSnapshot(config, 2, new Map()).listeners.map((l) => l.listen), config.listeners.map((l) => l.listen))
})

test('a snapshot divides per-balancer limits between the workers', () => {
  const group = workerSnapshot(config, 4, new Map()).targetGroups.app
  // ceil: 10/4 -> 3 each; 1/4 -> 1 each (0 would mean no limit); 0 (no limit) stays 0.
  assert.deepEqual(group.targets.map((t) => t.maxConns), [0, 3, 1])
  assert.equal(group.retries.budget.minPerSecond, 2.5)
  assert.equal(group.retries.budget.ratio, 0.2)
  // The validated config is left alone: the control plane keeps showing what the file says.
  assert.deepEqual(config.targetGroups.app.targets.map((t) => t.maxConns), [0, 10, 1])
})

test('one worker runs the config as written', () => {
  const group = workerSnapshot(config, 1, new Map()).targetGroups.app
  assert.deepEqual(group, config.targetGroups.app)
})

test('every request is answered under the key it is waited for', () => {
  const pairs: Array<[ToWorker, FromWorker[]]> = [
    [{ type: 'start', config, health: [] }, [{ type: 'ready', ports: {} }, { type: 'error', message: 'x' }]],
    [{ type: 'apply', seq: 7, config, health: [] }, [
      { type: 'applied', seq: 7, ports: {}, summary: { listenersAdded: [], listenersRemoved: [], targetsAdded: [], targetsRemoved: [] } },
      { type: 'error', seq: 7, message: 'x' },
    ]],
    [{ type: 'inFlight', id: 3 }, [{ type: 'inFlight', id: 3, counts: {} }]],
    [{ type: 'stop', drainTimeout: 1 }, [{ type: 'stopped' }]],
  ]
  for (const [request, answers] of pairs) for (const a of answers) assert.equal(replyKey(a), requestKey(request), `${request.type} <- ${a.type}`)
  assert.notEqual(replyKey({ type: 'applied', seq: 8, ports: {}, summary: { listenersAdded: [], listenersRemoved: [], targetsAdded: [], targetsRemoved: [] } }), requestKey(pairs[1][0]))
  assert.equal(requestKey({ type: 'health', updates: [] }), undefined)
})

test('workers: auto is one per core where workers can share a port, else 1', () => {
  assert.equal(resolveWorkers('auto', 'linux'), availableParallelism())
  assert.equal(resolveWorkers('auto', 'darwin'), 1)
  assert.equal(resolveWorkers('auto', 'win32'), 1)
  assert.equal(resolveWorkers(3), 3)
})
