import { test } from 'node:test'
import assert from 'node:assert/strict'
import { configSchema } from '../config/schema.ts'
import { withDeregistered, withRegistered, EMPTY_STATE } from '../state/state-store.ts'
import { effectiveConfig } from './effective-config.ts'

const file = configSchema.parse({
  listeners: [{ name: 'web', protocol: 'http', listen: 8080, routes: [{ forward: 'app' }] }],
  targetGroups: { app: { targets: ['127.0.0.1:1', { address: '127.0.0.1:2', weight: 2 }] } },
})

const addresses = (c: ReturnType<typeof effectiveConfig>) => c.targetGroups.app.targets.map((t) => `${t.address}/${t.weight}`)

test('file targets plus registered ones; a registration of a file target sets its weight', () => {
  let state = withRegistered(EMPTY_STATE, 'app', { address: '127.0.0.1:3', weight: 1 })
  state = withRegistered(state, 'app', { address: '127.0.0.1:1', weight: 5 })
  assert.deepEqual(addresses(effectiveConfig(file, state, new Map())), ['127.0.0.1:1/5', '127.0.0.1:2/2', '127.0.0.1:3/1'])
})

test('a deregistered file target stays out until registered again; an API target is forgotten', () => {
  let state = withRegistered(EMPTY_STATE, 'app', { address: '127.0.0.1:3', weight: 1 })
  state = withDeregistered(state, 'app', '127.0.0.1:2', true)
  state = withDeregistered(state, 'app', '127.0.0.1:3', false)
  assert.deepEqual(state.groups.app, { added: [], removed: ['127.0.0.1:2'] })
  assert.deepEqual(addresses(effectiveConfig(file, state, new Map())), ['127.0.0.1:1/1'])
  state = withRegistered(state, 'app', { address: '127.0.0.1:2', weight: 1 })
  assert.deepEqual(addresses(effectiveConfig(file, state, new Map())), ['127.0.0.1:1/1', '127.0.0.1:2/1'])
})

test('draining targets stay in the group until they leave', () => {
  const state = withDeregistered(EMPTY_STATE, 'app', '127.0.0.1:2', true)
  const draining = new Map([['app', [{ address: '127.0.0.1:2', weight: 2, maxConns: 0, backup: false }]]])
  assert.deepEqual(addresses(effectiveConfig(file, state, draining)), ['127.0.0.1:1/1', '127.0.0.1:2/2'])
})

test('restoring a deregistered file target lifts the tombstone without pinning a weight', async () => {
  const { withRestored } = await import('../state/state-store.ts')
  let state = withDeregistered(EMPTY_STATE, 'app', '127.0.0.1:2', true)
  state = withRestored(state, 'app', '127.0.0.1:2')
  assert.deepEqual(state.groups.app, { added: [], removed: [] })
  assert.deepEqual(addresses(effectiveConfig(file, state, new Map())), ['127.0.0.1:1/1', '127.0.0.1:2/2'])
})
