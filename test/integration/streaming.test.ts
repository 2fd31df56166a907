/**
 * Bodies are streamed, never buffered whole: 1 GiB up and 1 GiB down pass through a balancer running as
 * its own process while its resident memory stays flat (sampled from /proc).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { Backend } from '../helpers/backend.ts'

const GiB = 1024 * 1024 * 1024
const CHUNK = Buffer.alloc(256 * 1024, 'x')

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) * 1024
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as { port: number }
  s.close()
  await once(s, 'close')
  return port
}

function gibibyteStream(): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= GiB) { this.push(null); return }
      sent += CHUNK.length
      this.push(CHUNK)
    },
  })
}

test('1 GiB upload and 1 GiB download stream through with flat memory', { timeout: 120_000 }, async (t) => {
  let uploaded = 0
  const backend = await new Backend((req, res) => {
    if (req.method === 'POST') {
      req.on('data', (c: Buffer) => { uploaded += c.length })
      req.on('end', () => res.end(String(uploaded)))
      return
    }
    res.writeHead(200, { 'content-length': String(GiB) })
    gibibyteStream().pipe(res)
  }).start()
  t.after(() => backend.close())

  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-stream-'))
  const config = join(dir, 'fulcrum.yaml')
  writeFileSync(config, `admin: { enabled: false }\nlisteners:\n  - { name: web, protocol: http, listen: "127.0.0.1:${port}", routes: [{ forward: app }] }\n`
    + `targetGroups:\n  app: { targets: ["${backend.address}"] }\n`)
  const child = spawn(process.execPath, ['src/cli/main.ts', 'start', '-c', config, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] })
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const deadline = Date.now() + 10_000
  for (;;) {
    try { await (await request(`http://127.0.0.1:${port}/`, { method: 'HEAD' })).body.text(); break } catch {
      if (Date.now() > deadline) throw new Error('balancer did not start')
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const baseline = rssBytes(child.pid as number)
  let peak = baseline
  const sampler = setInterval(() => { peak = Math.max(peak, rssBytes(child.pid as number)) }, 50)
  t.after(() => clearInterval(sampler))

  const up = await request(`http://127.0.0.1:${port}/upload`, {
    method: 'POST', body: gibibyteStream(), headers: { 'content-length': String(GiB) },
  })
  assert.equal(up.statusCode, 200)
  assert.equal(await up.body.text(), String(GiB))
  assert.equal(uploaded, GiB)

  const down = await request(`http://127.0.0.1:${port}/download`)
  assert.equal(down.statusCode, 200)
  let received = 0
  for await (const chunk of down.body) received += (chunk as Buffer).length
  assert.equal(received, GiB)

  clearInterval(sampler)
  const growth = peak - baseline
  t.diagnostic(`balancer RSS: baseline ${(baseline / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB while moving 2 GiB`)
  assert.ok(growth < 128 * 2 ** 20, `RSS grew by ${(growth / 2 ** 20).toFixed(0)} MiB while moving 2 GiB`)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  assert.equal(code, 0)
})
