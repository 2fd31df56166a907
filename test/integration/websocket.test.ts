/** WebSocket (and any Upgrade) requests are tunnelled to a target: echo through the balancer, both ways. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { simpleConfig, startBalancer } from '../helpers/balancer.ts'

async function echoServer(name: string) {
  const server = createServer((req, res) => res.end('plain'))
  const wss = new WebSocketServer({ server })
  const seen: Array<Record<string, string | string[] | undefined>> = []
  wss.on('connection', (ws, req) => {
    seen.push(req.headers)
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${name}:${data}`, { binary: isBinary }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  return { address: `127.0.0.1:${port}`, seen, close: () => { wss.close(); server.closeAllConnections(); server.close() } }
}

test('a WebSocket echoes through the balancer, text and binary, with forwarding headers', async (t) => {
  const backend = await echoServer('b1')
  t.after(() => backend.close())
  const lb = await startBalancer(t, simpleConfig([backend.address]))
  const ws = new WebSocket(`ws://127.0.0.1:${lb.port()}/chat`)
  t.after(() => ws.close())
  ws.binaryType = 'arraybuffer'
  await once(ws, 'open')
  const next = () => new Promise<MessageEvent>((resolve) => ws.addEventListener('message', resolve, { once: true }))
  let reply = next()
  ws.send('hello')
  assert.equal((await reply).data, 'b1:hello')
  reply = next()
  const big = new Uint8Array(1 << 20).map((_, i) => i % 251)
  ws.send(big)
  assert.deepEqual(new Uint8Array((await reply).data as ArrayBuffer), big)
  assert.equal(backend.seen[0]['x-forwarded-for'], '127.0.0.1')
  assert.equal(backend.seen[0].upgrade, 'websocket')
})

test('a WebSocket whose first target is down goes to the next one', async (t) => {
  const dead = await echoServer('dead')
  dead.close()
  const live = await echoServer('live')
  t.after(() => live.close())
  const lb = await startBalancer(t, simpleConfig([dead.address, live.address]))
  const ws = new WebSocket(`ws://127.0.0.1:${lb.port()}/`)
  t.after(() => ws.close())
  await once(ws, 'open')
  const reply = new Promise<MessageEvent>((resolve) => ws.addEventListener('message', resolve, { once: true }))
  ws.send('x')
  assert.equal((await reply).data, 'live:x')
})
