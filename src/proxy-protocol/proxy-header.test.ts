import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatIPv6, ipv6Bytes, parseProxyHeader, type ProxyAddresses } from './proxy-header.ts'
import { encodeProxyHeaderV1, encodeProxyHeaderV2, proxyAddressesOf } from './proxy-header-encode.ts'

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]

/** A v2 header from its version/command and family/transport bytes and everything after the length. */
function v2(verCmd: number, famTransport: number, rest: number[]): Buffer {
  return Buffer.from([...SIGNATURE, verCmd, famTransport, rest.length >> 8, rest.length & 0xff, ...rest])
}

const V4: ProxyAddresses = { family: 'IPv4', sourceAddress: '192.168.0.1', sourcePort: 56324, destinationAddress: '192.168.0.11', destinationPort: 443 }
const V6: ProxyAddresses = { family: 'IPv6', sourceAddress: '2001:db8::1', sourcePort: 56324, destinationAddress: '::1', destinationPort: 443 }
const V4_BLOCK = [192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb]
const V6_BLOCK = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1, ...Array(15).fill(0), 1, 0xdc, 0x04, 0x01, 0xbb]

function assertInvalid(buf: Buffer, reason: RegExp): void {
  const result = parseProxyHeader(buf)
  assert.equal(result.kind, 'invalid', `${JSON.stringify(buf.toString('latin1'))} gave ${JSON.stringify(result)}`)
  if (result.kind === 'invalid') assert.match(result.reason, reason)
}

test('v1 TCP4, as in the spec', () => {
  const text = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'
  assert.deepEqual(parseProxyHeader(Buffer.from(text)), { kind: 'proxy', version: 1, length: text.length, addresses: V4 })
})

test('v1 TCP6, with addresses turned into canonical form', () => {
  const text = 'PROXY TCP6 2001:DB8:0:0:0:0:0:1 0000::0001 56324 443\r\n'
  assert.deepEqual(parseProxyHeader(Buffer.from(text)), { kind: 'proxy', version: 1, length: text.length, addresses: V6 })
})

test('v1 UNKNOWN means the connection\'s own addresses, whatever follows it on the line', () => {
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'local', version: 1, length: 15 })
  // The spec's worst case, exactly 107 bytes.
  const ff = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'
  const longest = `PROXY UNKNOWN ${ff} ${ff} 65535 65535\r\n`
  assert.equal(longest.length, 107)
  assert.deepEqual(parseProxyHeader(Buffer.from(longest)), { kind: 'local', version: 1, length: 107 })
})

test('v2 PROXY over IPv4 and IPv6', () => {
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x11, V4_BLOCK)), { kind: 'proxy', version: 2, length: 28, addresses: V4 })
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x21, V6_BLOCK)), { kind: 'proxy', version: 2, length: 52, addresses: V6 })
})

test('v2 TLVs after the addresses are skipped but counted in length', () => {
  const tlvs = [0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x03, 1, 2, 3] // ALPN "h2", then NOOP padding
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x11, [...V4_BLOCK, ...tlvs])), { kind: 'proxy', version: 2, length: 39, addresses: V4 })
})

test('v2 LOCAL, UNSPEC, UNIX and DGRAM all mean the connection\'s own addresses', () => {
  assert.deepEqual(parseProxyHeader(v2(0x20, 0x00, [])), { kind: 'local', version: 2, length: 16 })
  // LOCAL discards the block whatever its size, and must still skip it.
  assert.deepEqual(parseProxyHeader(v2(0x20, 0x11, [1, 2, 3])), { kind: 'local', version: 2, length: 19 })
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x00, [9, 9])), { kind: 'local', version: 2, length: 18 })
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x31, Array(216).fill(0x61))), { kind: 'local', version: 2, length: 232 })
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x12, V4_BLOCK)), { kind: 'local', version: 2, length: 28 })
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x22, V6_BLOCK)), { kind: 'local', version: 2, length: 52 })
})

test('every strict prefix of a valid header is incomplete', () => {
  const headers = [
    Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'),
    Buffer.from('PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n'),
    Buffer.from('PROXY UNKNOWN whatever\r\n'),
    v2(0x21, 0x11, V4_BLOCK),
    v2(0x21, 0x21, [...V6_BLOCK, 0x04, 0x00, 0x00]),
    v2(0x20, 0x00, []),
  ]
  for (const header of headers) {
    for (let n = 0; n < header.length; n++) {
      assert.deepEqual(parseProxyHeader(header.subarray(0, n)), { kind: 'incomplete' }, `${n} bytes of ${JSON.stringify(header.toString('latin1'))}`)
    }
  }
})

test('bytes after the header are not part of it', () => {
  const payload = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
  for (const header of [encodeProxyHeaderV1(V4), encodeProxyHeaderV2(V6), v2(0x20, 0x00, []), Buffer.from('PROXY UNKNOWN\r\n')]) {
    const result = parseProxyHeader(Buffer.concat([header, payload]))
    assert.ok(result.kind === 'proxy' || result.kind === 'local')
    assert.equal(result.length, header.length)
  }
  // A payload that starts like a v2 signature still does not change a v1 header.
  assert.equal((parseProxyHeader(Buffer.concat([encodeProxyHeaderV1(V6), Buffer.from(SIGNATURE)])) as { length: number }).length, encodeProxyHeaderV1(V6).length)
})

test('anything but a PROXY header is invalid from the first byte that differs', () => {
  assertInvalid(Buffer.from('GET / HTTP/1.1\r\n'), /not a PROXY protocol header/)
  assertInvalid(Buffer.from('PROXYTCP4'), /not a PROXY protocol header/)
  assertInvalid(Buffer.from('proxy '), /not a PROXY protocol header/)
  assertInvalid(Buffer.from([0x16, 0x03, 0x01]), /not a PROXY protocol header/) // a TLS ClientHello
  assertInvalid(Buffer.from([...SIGNATURE.slice(0, 5), 0x00]), /not a PROXY protocol header/)
})

test('malformed v1 lines are invalid, with the field that is wrong', () => {
  const cases: [string, RegExp][] = [
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /protocol/],
    ['PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n', /protocol/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /must be: PROXY/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', /must be: PROXY/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /must be: PROXY/],
    ['PROXY TCP4\r\n', /must be: PROXY/],
    ['PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', /source address/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n', /source port/],
    ['PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /source address is not an IPv4/],
    ['PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n', /source address is not an IPv4/],
    ['PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n', /source address is not an IPv4/],
    ['PROXY TCP4 1.2.3.4 ::1 1 2\r\n', /destination address is not an IPv4/],
    ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /source address is not an IPv6/],
    ['PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n', /destination address is not an IPv6/],
    ['PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n', /destination address is not an IPv6/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /source port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n', /source port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n', /source port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n', /destination port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 0x2\r\n', /destination port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /destination port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n', /destination port/],
    ['PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n', /source address/],
  ]
  for (const [text, reason] of cases) assertInvalid(Buffer.from(text), reason)
})

test('malformed v1 fields are refused before the CRLF arrives', () => {
  assertInvalid(Buffer.from('PROXY TCP5'), /protocol/)
  assertInvalid(Buffer.from('PROXY TCP4 1.2.3.4  '), /destination address/)
  assertInvalid(Buffer.from('PROXY TCP4 999'), /source address/)
  assertInvalid(Buffer.from('PROXY TCP4 1.2.3.4.'), /source address/)
  assertInvalid(Buffer.from('PROXY TCP4 1.2.3.01'), /source address/)
  assertInvalid(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 00'), /source port/)
  assertInvalid(Buffer.from('PROXY TCP6 ::1 ::g'), /destination address/)
  assertInvalid(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 '), /must be: PROXY/)
  assertInvalid(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), /destination port/)
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r')).kind, 'incomplete')
})

test('a v1 line without CRLF in its first 107 bytes is invalid', () => {
  assert.equal(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(92)}`)).kind, 'incomplete') // 106 bytes
  assertInvalid(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(93)}`), /no CRLF within 107 bytes/)
  assertInvalid(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`), /no CRLF within 107 bytes/) // 108 with CRLF
  assert.equal(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(91)}\r\n`)).kind, 'local') // 107 with CRLF
})

test('malformed v2 headers are invalid as soon as the bad byte arrives', () => {
  assertInvalid(Buffer.from([...SIGNATURE, 0x11]), /version nibble is 1/)
  assertInvalid(Buffer.from([...SIGNATURE, 0x22]), /command is 2/)
  assertInvalid(Buffer.from([...SIGNATURE, 0x21, 0x13]), /0x13/)
  assertInvalid(Buffer.from([...SIGNATURE, 0x21, 0x10]), /0x10/)
  assertInvalid(Buffer.from([...SIGNATURE, 0x21, 0x01]), /0x01/)
  assertInvalid(Buffer.from([...SIGNATURE, 0x21, 0x41]), /0x41/)
  assertInvalid(Buffer.from([...SIGNATURE, 0x21, 0x11, 0x00, 11]), /length 11 is shorter than its 12-byte/)
  assertInvalid(Buffer.from([...SIGNATURE, 0x21, 0x21, 0x00, 12]), /length 12 is shorter than its 36-byte/)
  assertInvalid(Buffer.from([...SIGNATURE, 0x21, 0x31, 0x00, 108]), /216-byte/)
  assert.equal(parseProxyHeader(Buffer.from([...SIGNATURE, 0x21, 0x11, 0x00, 12, 1, 2])).kind, 'incomplete')
})

test('round trips through v1 and v2 for both families', () => {
  const cases: ProxyAddresses[] = [
    V4,
    V6,
    { family: 'IPv4', sourceAddress: '0.0.0.0', sourcePort: 0, destinationAddress: '255.255.255.255', destinationPort: 65535 },
    { family: 'IPv6', sourceAddress: '::ffff:10.0.0.1', sourcePort: 1, destinationAddress: 'fe80::1:0:0:2', destinationPort: 8443 },
    { family: 'IPv6', sourceAddress: '::', sourcePort: 80, destinationAddress: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', destinationPort: 80 },
  ]
  for (const a of cases) {
    for (const [version, encode] of [[1, encodeProxyHeaderV1], [2, encodeProxyHeaderV2]] as const) {
      const header = encode(a)
      assert.deepEqual(parseProxyHeader(header), { kind: 'proxy', version, length: header.length, addresses: a })
    }
  }
})

test('v2 encoding expands IPv6 addresses to 16 bytes', () => {
  const header = encodeProxyHeaderV2({ family: 'IPv6', sourceAddress: '::ffff:1.2.3.4', sourcePort: 1, destinationAddress: '2001:db8::1', destinationPort: 2 })
  assert.deepEqual([...header.subarray(0, 16)], [...SIGNATURE, 0x21, 0x21, 0, 36])
  assert.deepEqual([...header.subarray(16, 32)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4])
  assert.deepEqual([...header.subarray(32, 48)], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
  assert.deepEqual([...header.subarray(48)], [0, 1, 0, 2])
  assert.deepEqual([...encodeProxyHeaderV2(V4)], [...SIGNATURE, 0x21, 0x11, 0, 12, ...V4_BLOCK])
})

test('v1 encoding writes the spec\'s line, IPv6 in canonical form', () => {
  assert.equal(encodeProxyHeaderV1(V4).toString(), 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n')
  const wide = { ...V6, sourceAddress: '2001:0DB8:0000:0000:0000:0000:0000:0001' }
  assert.equal(encodeProxyHeaderV1(wide).toString(), 'PROXY TCP6 2001:db8::1 ::1 56324 443\r\n')
})

test('encoders refuse addresses and ports that are not valid', () => {
  assert.throws(() => encodeProxyHeaderV1({ ...V4, sourceAddress: '::1' }), TypeError)
  assert.throws(() => encodeProxyHeaderV2({ ...V6, destinationAddress: '1.2.3.4' }), TypeError)
  assert.throws(() => encodeProxyHeaderV2({ ...V6, destinationAddress: 'fe80::1%eth0' }), TypeError)
  assert.throws(() => encodeProxyHeaderV1({ ...V4, sourcePort: 65536 }), TypeError)
  assert.throws(() => encodeProxyHeaderV2({ ...V4, destinationPort: 1.5 }), TypeError)
})

test('IPv6 text and bytes: every form Node accepts, RFC 5952 output', () => {
  assert.equal(formatIPv6(ipv6Bytes('::')!), '::')
  assert.equal(formatIPv6(ipv6Bytes('1:0:0:2:0:0:0:3')!), '1:0:0:2::3')
  assert.equal(formatIPv6(ipv6Bytes('1:0:0:2:2:0:0:3')!), '1::2:2:0:0:3')
  assert.equal(formatIPv6(ipv6Bytes('1:0:2:3:4:5:6:7')!), '1:0:2:3:4:5:6:7')
  assert.equal(formatIPv6(ipv6Bytes('1:2:3:4:5:6:7::')!), '1:2:3:4:5:6:7:0')
  assert.equal(formatIPv6(ipv6Bytes('::1.2.3.4')!), '::102:304')
  assert.equal(formatIPv6(ipv6Bytes('1::1.2.3.4')!), '1::102:304')
  assert.equal(formatIPv6(ipv6Bytes('1:2:3:4:5:6:1.2.3.4')!), '1:2:3:4:5:6:102:304')
  assert.equal(formatIPv6(ipv6Bytes('::FFFF:1.2.3.4')!), '::ffff:1.2.3.4')
  assert.equal(formatIPv6(ipv6Bytes('::ffff:a00:1')!), '::ffff:10.0.0.1')
  for (const bad of ['', '1.2.3.4', ':::1', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6::1.2.3.4', '12345::', 'fe80::1%eth0', '[::1]']) {
    assert.equal(ipv6Bytes(bad), undefined, bad)
  }
})

test('proxyAddressesOf: IPv4 clients of a dual-stack listener go out as IPv4', () => {
  const socket = { remoteAddress: '::ffff:203.0.113.7', remotePort: 50000, localAddress: '::ffff:10.0.0.1', localPort: 443 }
  assert.deepEqual(proxyAddressesOf(socket), { family: 'IPv4', sourceAddress: '203.0.113.7', sourcePort: 50000, destinationAddress: '10.0.0.1', destinationPort: 443 })
  const plain = { remoteAddress: '203.0.113.7', remotePort: 50000, localAddress: '10.0.0.1', localPort: 443 }
  assert.deepEqual(proxyAddressesOf(plain), proxyAddressesOf(socket))
})

test('proxyAddressesOf: IPv6 stays IPv6, in canonical form, without a zone', () => {
  const socket = { remoteAddress: '2001:DB8:0::7', remotePort: 50000, localAddress: 'fe80::1%eth0', localPort: 443 }
  assert.deepEqual(proxyAddressesOf(socket), { family: 'IPv6', sourceAddress: '2001:db8::7', sourcePort: 50000, destinationAddress: 'fe80::1', destinationPort: 443 })
})

test('proxyAddressesOf: with one IPv6 end, the IPv4 end is mapped into IPv6', () => {
  assert.deepEqual(
    proxyAddressesOf({ remoteAddress: '::ffff:203.0.113.7', remotePort: 1, localAddress: '2001:db8::1', localPort: 2 }),
    { family: 'IPv6', sourceAddress: '::ffff:203.0.113.7', sourcePort: 1, destinationAddress: '2001:db8::1', destinationPort: 2 },
  )
  assert.deepEqual(
    proxyAddressesOf({ remoteAddress: '2001:db8::9', remotePort: 1, localAddress: '10.0.0.1', localPort: 2 }),
    { family: 'IPv6', sourceAddress: '2001:db8::9', sourcePort: 1, destinationAddress: '::ffff:10.0.0.1', destinationPort: 2 },
  )
})

test('proxyAddressesOf: undefined when something is missing or not an address', () => {
  const full = { remoteAddress: '1.2.3.4', remotePort: 1, localAddress: '5.6.7.8', localPort: 2 }
  assert.equal(proxyAddressesOf({ ...full, remoteAddress: undefined }), undefined)
  assert.equal(proxyAddressesOf({ ...full, localAddress: undefined }), undefined)
  assert.equal(proxyAddressesOf({ ...full, remotePort: undefined }), undefined)
  assert.equal(proxyAddressesOf({ ...full, localPort: undefined }), undefined)
  assert.equal(proxyAddressesOf({ ...full, remoteAddress: 'localhost' }), undefined)
  assert.equal(proxyAddressesOf({}), undefined)
})
