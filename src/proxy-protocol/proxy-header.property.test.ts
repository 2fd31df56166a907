/**
 * Whatever the bytes, parseProxyHeader answers with one of its four kinds and never throws; what it has
 * answered for a buffer it keeps answering as more bytes arrive; and every encoded header parses back to its
 * addresses, whatever follows it, while each of its strict prefixes is 'incomplete'. Inputs reach past the
 * first checks by starting with the v1 prefix or v2 signature and plausible tokens or bytes after them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isIPv6 } from 'node:net'
import fc from 'fast-check'
import { ipv6Bytes, parseProxyHeader, type ProxyAddresses, type ProxyHeaderResult } from './proxy-header.ts'
import { encodeProxyHeaderV1, encodeProxyHeaderV2 } from './proxy-header-encode.ts'

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]
const V1_TOKENS = [' ', ' ', ' ', '\r\n', '\r', '\n', '1.2.3.4', '255.255.255.255', '01.2.3.4', '::1', '2001:db8::1',
  '::ffff:1.2.3.4', 'fe80::1%1', '0', '80', '65535', '65536', '01', '-1', 'x', '.', ':']

const port = fc.integer({ min: 0, max: 65535 })
const addresses: fc.Arbitrary<ProxyAddresses> = fc.oneof(
  fc.record({ family: fc.constant('IPv4' as const), sourceAddress: fc.ipV4(), sourcePort: port, destinationAddress: fc.ipV4(), destinationPort: port }),
  fc.record({ family: fc.constant('IPv6' as const), sourceAddress: fc.ipV6(), sourcePort: port, destinationAddress: fc.ipV6(), destinationPort: port }),
)
const encoders = fc.constantFrom([1, encodeProxyHeaderV1] as const, [2, encodeProxyHeaderV2] as const)

// size 'max': fast-check would otherwise keep arrays to about ten elements.
const bytes = fc.uint8Array({ maxLength: 300, size: 'max' })
const v1Like = fc.oneof(
  bytes.map((b) => Buffer.concat([Buffer.from('PROXY '), b])),
  fc.tuple(fc.constantFrom('TCP4 ', 'TCP6 ', 'UNKNOWN', 'TCP'), fc.array(fc.constantFrom(...V1_TOKENS), { maxLength: 14 }))
    .map(([protocol, tokens]) => Buffer.from(`PROXY ${protocol}${tokens.join('')}`, 'latin1')),
)
const v2Like = fc.oneof(
  bytes.map((b) => Buffer.concat([Buffer.from(SIGNATURE), b])),
  // Plausible command and family bytes and lengths, so that many of these parse.
  fc.tuple(
    fc.constantFrom(0x20, 0x21, 0x11, 0x22),
    fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x13),
    fc.oneof(fc.constantFrom(0, 12, 36, 216), fc.integer({ min: 0, max: 60 })),
    fc.uint8Array({ maxLength: 250, size: 'max' }),
  ).map(([verCmd, fam, length, rest]) => Buffer.from([...SIGNATURE, verCmd, fam, 0, length, ...rest])),
)
/** A valid header with a few bytes overwritten, inserted or deleted, then arbitrary bytes. */
const mutatedHeader = fc.tuple(
  addresses,
  encoders,
  fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'delete'), fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
  fc.uint8Array({ maxLength: 40 }),
).map(([a, [, encode], edits, suffix]) => {
  const b = [...encode(a)]
  for (const [edit, at, value] of edits) {
    const i = at % (b.length + 1)
    if (edit === 'set') b[i] = value
    else if (edit === 'insert') b.splice(i, 0, value)
    else b.splice(i, 1)
  }
  return Buffer.from([...b, ...suffix])
})
const anyInput = fc.oneof(bytes.map((b) => Buffer.from(b)), v1Like, v2Like, mutatedHeader)

function assertWellFormed(buf: Buffer, result: ProxyHeaderResult): void {
  assert.ok(['proxy', 'local', 'incomplete', 'invalid'].includes(result.kind))
  if (result.kind === 'proxy' || result.kind === 'local') assert.ok(result.length > 0 && result.length <= buf.length)
  if (result.kind === 'invalid') assert.ok(result.reason.length > 0)
}

test('any bytes give one of the four kinds, never an exception', () => {
  fc.assert(fc.property(anyInput, (buf) => assertWellFormed(buf, parseProxyHeader(buf))), { numRuns: 2000 })
})

test('more bytes never change an answer: incomplete, then invalid for good or the same header for good', () => {
  fc.assert(fc.property(anyInput, (buf) => {
    let settled: ProxyHeaderResult | undefined
    for (let n = 0; n <= buf.length; n++) {
      const result = parseProxyHeader(buf.subarray(0, n))
      if (settled === undefined) {
        if (result.kind !== 'incomplete') settled = result
      } else if (settled.kind === 'invalid') {
        assert.equal(result.kind, 'invalid', `${n} bytes`)
      } else {
        assert.deepEqual(result, settled, `${n} bytes`)
      }
    }
  }), { numRuns: 500 })
})

/** The same address whatever its spelling: IPv6 as its 16 bytes. */
function canonical(family: 'IPv4' | 'IPv6', address: string): string {
  if (family === 'IPv4') return address
  const b = ipv6Bytes(address)
  assert.ok(b !== undefined && isIPv6(address), `${address} is an IPv6 address`)
  return Buffer.from(b).toString('hex')
}

function assertSameAddresses(actual: ProxyAddresses, expected: ProxyAddresses): void {
  assert.equal(actual.family, expected.family)
  assert.equal(canonical(actual.family, actual.sourceAddress), canonical(expected.family, expected.sourceAddress))
  assert.equal(canonical(actual.family, actual.destinationAddress), canonical(expected.family, expected.destinationAddress))
  assert.equal(actual.sourcePort, expected.sourcePort)
  assert.equal(actual.destinationPort, expected.destinationPort)
}

test('encoded headers parse back to their addresses, whatever follows them', () => {
  fc.assert(fc.property(addresses, encoders, bytes, (a, [version, encode], suffix) => {
    const header = encode(a)
    for (const buf of [header, Buffer.concat([header, suffix])]) {
      const result = parseProxyHeader(buf)
      assert.equal(result.kind, 'proxy')
      if (result.kind !== 'proxy') return
      assert.equal(result.version, version)
      assert.equal(result.length, header.length)
      assertSameAddresses(result.addresses, a)
    }
  }), { numRuns: 1000 })
})

test('every strict prefix of an encoded header is incomplete', () => {
  fc.assert(fc.property(addresses, encoders, (a, [, encode]) => {
    const header = encode(a)
    for (let n = 0; n < header.length; n++) assert.equal(parseProxyHeader(header.subarray(0, n)).kind, 'incomplete', `${n} bytes`)
  }), { numRuns: 500 })
})

test('IPv6 text: canonical output matches the URL standard\'s serializer', () => {
  // WHATWG URL and RFC 5952 compress the same run; they differ only on IPv4-mapped addresses, left out here.
  fc.assert(fc.property(fc.ipV6(), (address) => {
    const b = ipv6Bytes(address)
    assert.ok(b !== undefined)
    fc.pre(!(b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff))
    const header = parseProxyHeader(encodeProxyHeaderV2({ family: 'IPv6', sourceAddress: address, sourcePort: 1, destinationAddress: '::', destinationPort: 2 }))
    assert.ok(header.kind === 'proxy')
    assert.equal(`[${header.addresses.sourceAddress}]`, new URL(`http://[${address}]/`).hostname)
  }), { numRuns: 1000 })
})
