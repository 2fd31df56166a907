/**
 * Limits on an HTTP/2 listener: a refused stream ends that stream only; the session's other streams are
 * served. (On HTTP/1.1 a refusal closes the connection, see protection-requests.test.ts.)
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect } from 'node:http2'
import type { ConfigInput } from '../../src/config/schema.ts'
import { Backend } from '../helpers/backend.ts'
import { startBalancer } from '../helpers/balancer.ts'
import { TestCerts } from '../helpers/certs.ts'

test('HTTP/2: a stream refused for its size (413, 414) leaves the session serving its other streams', async (t) => {
  const certs = new TestCerts()
  t.after(() => certs.remove())
  const backend = await new Backend((req, res) => { req.resume(); res.end(`got ${req.url}`) }).start()
  t.after(() => backend.close())
  const lb = await startBalancer(t, {
    listeners: [{
      name: 'h2', protocol: 'https', listen: '127.0.0.1:0', http2: true, tls: { certificates: [certs.leaf('site', ['site.test'])] },
      limits: { maxUriBytes: 100, maxBodyBytes: 1000 }, routes: [{ forward: 'app' }],
    }],
    targetGroups: { app: { targets: [backend.address] } },
  } as ConfigInput)
  const port = lb.port('h2')
  const session = connect(`https://site.test:${port}`, { ca: readFileSync(certs.ca), servername: 'site.test', host: '127.0.0.1', port } as never)
  t.after(() => session.close())
  const send = (path: string, body?: Buffer): Promise<{ status: number; text: string }> => new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ':path': path, ':method': body === undefined ? 'GET' : 'POST' }
    if (body !== undefined) headers['content-length'] = body.length
    const stream = session.request(headers)
    let status = 0
    let text = ''
    stream.on('response', (h) => { status = Number(h[':status']) })
    stream.on('data', (d: Buffer) => { text += d.toString() })
    stream.on('end', () => resolve({ status, text }))
    stream.on('error', reject)
    stream.end(body)
  })
  assert.deepEqual(await send('/first'), { status: 200, text: 'got /first' })
  assert.equal((await send(`/${'a'.repeat(200)}`)).status, 414)
  assert.equal((await send('/big', Buffer.alloc(5000))).status, 413)
  assert.deepEqual(await send('/after'), { status: 200, text: 'got /after' }, 'the same session goes on')
})
