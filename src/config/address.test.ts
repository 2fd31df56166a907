import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatAddress, isAllAddresses, parseListenAddress, parseTargetAddress } from './address.ts'

test('listen addresses: port, host:port, [v6]:port, *:port', () => {
  assert.deepEqual(parseListenAddress(8080), { host: undefined, port: 8080 })
  assert.deepEqual(parseListenAddress('8080'), { host: undefined, port: 8080 })
  assert.deepEqual(parseListenAddress('*:8080'), { host: undefined, port: 8080 })
  assert.deepEqual(parseListenAddress('127.0.0.1:9090'), { host: '127.0.0.1', port: 9090 })
  assert.deepEqual(parseListenAddress('localhost:80'), { host: 'localhost', port: 80 })
  assert.deepEqual(parseListenAddress('[::1]:8081'), { host: '::1', port: 8081 })
  assert.deepEqual(parseListenAddress('[::]:443'), { host: '::', port: 443 })
})

test('bad listen addresses say how to write them', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 }) // any free port, for tests
  assert.deepEqual(parseTargetAddress('127.0.0.1:0'), { error: 'port 0 is out of range; use a port from 1 to 65535' })
  assert.deepEqual(parseListenAddress('65536'), { error: 'port 65536 is out of range; use a port from 1 to 65535' })
  assert.deepEqual(parseListenAddress('web:http'), { error: 'the port in "web:http" is not a number; write a port from 1 to 65535' })
  assert.deepEqual(parseListenAddress('localhost'), { error: '"localhost" has no port; write "localhost:8080"' })
  assert.deepEqual(parseListenAddress('::1:8080'), { error: 'IPv6 addresses need brackets; write "[::1]:8080"' })
  assert.deepEqual(parseListenAddress('[nope]:80'), { error: '"[nope]" is not an IPv6 address' })
  assert.deepEqual(parseListenAddress('exa mple:80'), { error: '"exa mple" in "exa mple:80" is not a host name or IP address' })
  assert.deepEqual(parseListenAddress('https://example.com/x'), { error: '"https://example.com/x" is a URL; write only host:port, e.g. "example.com:8080"' })
  assert.deepEqual(parseListenAddress(''), { error: '"" is not a host:port address' })
})

test('target addresses need a host and a port', () => {
  assert.deepEqual(parseTargetAddress('10.0.0.7:8080'), { host: '10.0.0.7', port: 8080 })
  assert.deepEqual(parseTargetAddress('[::1]:8081'), { host: '::1', port: 8081 })
  assert.deepEqual(parseTargetAddress('backend_1.internal:3000'), { host: 'backend_1.internal', port: 3000 })
  assert.deepEqual(parseTargetAddress('10.0.0.7'), { error: '"10.0.0.7" has no port; write "10.0.0.7:8080"' })
  assert.deepEqual(parseTargetAddress('::1'), { error: '"::1" has no port; write "[::1]:8080"' })
  assert.deepEqual(parseTargetAddress('[::1]'), { error: '"[::1]" has no port; write "[::1]:8080"' })
  assert.deepEqual(parseTargetAddress('8081'), { error: '"8081" has no host; write "127.0.0.1:8081"' })
  assert.deepEqual(parseTargetAddress('*:8081'), { error: '"*:8081" needs a host; write "127.0.0.1:8081"' })
  assert.deepEqual(parseTargetAddress(':8081'), { error: '":8081" needs a host; write "127.0.0.1:8081"' })
})

test('all-addresses hosts and display form', () => {
  assert.ok(isAllAddresses(undefined) && isAllAddresses('0.0.0.0') && isAllAddresses('::'))
  assert.ok(!isAllAddresses('127.0.0.1'))
  assert.equal(formatAddress('::1', 80), '[::1]:80')
  assert.equal(formatAddress('Example.COM', 80), 'example.com:80')
  assert.equal(formatAddress(undefined, 80), '*:80')
})

test('port 0 (any free port) is accepted for listeners, IPv6 included, never for targets', () => {
  assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 })
  assert.deepEqual(parseListenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 })
  assert.ok('error' in parseTargetAddress('127.0.0.1:0'))
})
