import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildUpstreamHeaders, clientResponseHeaders } from './request-headers.ts'

const on = { forwardedHeaders: true, requestId: true, port: '8080', proto: 'http' }
const off = { forwardedHeaders: false, requestId: false, port: '8080', proto: 'http' }

function pairs(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]])
  return out
}

test('client headers keep their order; hop-by-hop and Expect are dropped', () => {
  const facts = { requestId: '' }
  const out = buildUpstreamHeaders(['Host', 'a', 'Accept', '*/*', 'Connection', 'keep-alive', 'TE', 'trailers',
    'Expect', '100-continue', 'Transfer-Encoding', 'chunked', 'X-B', '1'], '10.0.0.1', off, facts)
  assert.deepEqual(pairs(out), [['Host', 'a'], ['Accept', '*/*'], ['X-B', '1']])
  assert.equal(facts.requestId, '')
})

test('fields named by Connection are dropped too, whatever their case', () => {
  const out = buildUpstreamHeaders(['Connection', 'close, X-Secret', 'x-secret', 's', 'X-Keep', 'k'], '10.0.0.1', off, { requestId: '' })
  assert.deepEqual(pairs(out), [['X-Keep', 'k']])
})

test('X-Forwarded-For is appended to (several incoming lines joined); the other forwarding headers are replaced', () => {
  const facts = { requestId: '' }
  const out = buildUpstreamHeaders(['Host', 'h:1', 'X-Forwarded-For', '1.1.1.1', 'x-forwarded-for', '2.2.2.2',
    'X-Forwarded-Proto', 'https', 'X-Real-IP', '9.9.9.9', 'X-Request-Id', 'rid'], '10.0.0.1', on, facts)
  assert.deepEqual(pairs(out), [
    ['Host', 'h:1'],
    ['x-forwarded-for', '1.1.1.1, 2.2.2.2, 10.0.0.1'],
    ['x-forwarded-proto', 'http'],
    ['x-real-ip', '10.0.0.1'],
    ['x-forwarded-port', '8080'],
    ['x-forwarded-host', 'h:1'],
    ['x-request-id', 'rid'],
  ])
  assert.equal(facts.requestId, 'rid')
})

test('Upgrade requests keep Connection and Upgrade', () => {
  const out = buildUpstreamHeaders(['Connection', 'Upgrade', 'Upgrade', 'websocket'], '10.0.0.1', { ...off, keepUpgrade: true }, { requestId: '' })
  assert.deepEqual(pairs(out), [['Connection', 'Upgrade'], ['Upgrade', 'websocket']])
})

test('response headers: hop-by-hop and Connection-named fields removed, request id appended', () => {
  const out = clientResponseHeaders([Buffer.from('Content-Type'), Buffer.from('text/plain'), Buffer.from('Connection'),
    Buffer.from('keep-alive, X-Hop'), Buffer.from('X-Hop'), Buffer.from('1'), Buffer.from('Transfer-Encoding'),
    Buffer.from('chunked'), Buffer.from('Set-Cookie'), Buffer.from('a=1'), Buffer.from('Set-Cookie'), Buffer.from('b=2')],
  'x-request-id', 'r1')
  assert.deepEqual(pairs(out), [['Content-Type', 'text/plain'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['x-request-id', 'r1']])
})
