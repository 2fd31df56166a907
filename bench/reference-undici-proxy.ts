/**
 * `node-undici`: the naive baseline Fulcrum has to beat. A node:http server in front of one undici `Pool`
 * per target (64 connections each), `pool.stream()` straight into the response, hop-by-hop headers removed,
 * request bodies streamed, strict round robin. It is the anchor's `node/undici-proxy.mjs` in TypeScript
 * and, in the anchor runs, the cheapest Node proxy measured (~3-4x nginx-1w CPU per request).
 *
 * It takes the same YAML as Fulcrum (first listener's `listen`, first target group's `targets`), so it can
 * also stand in for Fulcrum: FULCRUM_CMD='node_modules/.bin/node bench/reference-undici-proxy.ts -c {config}'.
 *   node bench/reference-undici-proxy.ts -c bench.yaml
 *   node bench/reference-undici-proxy.ts --listen 127.0.0.1:8080 --targets 127.0.0.1:8081,127.0.0.1:8082
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { parse as parseYaml } from 'yaml'

interface BenchYaml {
  listeners: { listen: string }[]
  targetGroups: Record<string, { targets: string[] }>
}

function readSettings(): { listen: string; targets: string[] } {
  const { values } = parseArgs({
    options: { config: { type: 'string', short: 'c' }, listen: { type: 'string' }, targets: { type: 'string' } },
  })
  if (values.config) {
    const y = parseYaml(readFileSync(values.config, 'utf8')) as BenchYaml
    return { listen: y.listeners[0].listen, targets: Object.values(y.targetGroups)[0].targets }
  }
  if (!values.listen || !values.targets) throw new Error('usage: -c config.yaml, or --listen host:port --targets a:p,b:p')
  return { listen: values.listen, targets: values.targets.split(',') }
}

// RFC 9110 7.6.1: meaningful for one connection only, so never forwarded.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
])

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value
  }
  return out
}

const { listen, targets } = readSettings()
const pools = targets.map((t) => new Pool(`http://${t}`, { connections: 64 }))
let next = 0

// `opaque` carries the response into the factory, so no closure is allocated per request.
function toClient({ statusCode, headers, opaque }: { statusCode: number; headers: IncomingHttpHeaders; opaque: ServerResponse }) {
  opaque.writeHead(statusCode, endToEnd(headers))
  return opaque
}

function proxy(req: IncomingMessage, res: ServerResponse): void {
  const pool = pools[next]
  next = (next + 1) % pools.length
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
  pool
    .stream(
      { path: req.url ?? '/', method: req.method as 'GET', headers: endToEnd(req.headers), body: hasBody ? req : null, opaque: res },
      toClient,
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502).end()
      else res.destroy()
    })
}

const sep = listen.lastIndexOf(':')
const server = createServer(proxy).listen(Number(listen.slice(sep + 1)), listen.slice(0, sep))

// Exit cleanly on SIGTERM/SIGINT so that `--cpu-prof` gets to write its profile.
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    server.close()
    server.closeAllConnections()
    void Promise.allSettled(pools.map((p) => p.destroy())).then(() => process.exit(0))
  })
}
