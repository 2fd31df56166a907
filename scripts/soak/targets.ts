/**
 * The soak's targets, run as a child process of scripts/soak.ts (forked with an IPC channel): one node:http
 * server per name on 127.0.0.1, each answering with a body that names the request, so a response handed to
 * the wrong client is caught:
 *   GET  /soak/<id>  -> 200 "soak <id> <target>\n"
 *   POST /soak/<id>  -> 200 with the request body echoed byte for byte (x-soak-id, x-soak-target headers)
 *   any, while unavailable -> 503 "soak-503 <id> <target>\n"
 *   anything else (the harness's readiness probe) -> 200 "ok\n"
 * The parent drives chaos over IPC: kill (reset every socket, stop listening, as a crash), restart (same
 * port), and a mode per target (normal, unavailable, slow). Exits when the parent goes away.
 *   node scripts/soak/targets.ts t1 t2 t3
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CommandMessage, Mode, Reply } from './target-control.ts'

const SOAK_PATH = /^\/soak\/([\w-]+)$/

class Target {
  readonly name: string
  port = 0
  mode: Mode = { kind: 'normal' }
  requests = 0
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()

  constructor(name: string) {
    this.name = name
  }

  async listen(port: number): Promise<void> {
    const server = createServer((req, res) => this.#handle(req, res))
    // Never close a keep-alive connection for its age or count: only chaos closes them.
    server.keepAliveTimeout = 120_000
    server.maxRequestsPerSocket = 0
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s)
      s.once('close', () => this.#sockets.delete(s))
    })
    // A restart binds the same port again; it is ours, but retry a moment in case the kernel disagrees.
    for (let attempt = 1; ; attempt++) {
      try {
        server.listen(port, '127.0.0.1')
        await once(server, 'listening')
        break
      } catch (err) {
        if (attempt >= 30) throw err
        await sleep(100)
      }
    }
    this.port = (server.address() as { port: number }).port
    this.#server = server
  }

  /** Like a crash: stop listening and reset every open connection, requests in flight included. */
  async kill(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    for (const s of this.#sockets) s.resetAndDestroy()
    server.close()
    await once(server, 'close')
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const id = SOAK_PATH.exec(req.url ?? '')?.[1]
      if (id === undefined) {
        res.end('ok\n')
        return
      }
      this.requests++
      // The mode at arrival decides the answer, as a process that is already slow or failing would.
      const mode = this.mode
      const headers = { 'x-soak-id': id, 'x-soak-target': this.name }
      const answer = (): void => {
        if (res.destroyed || req.socket.destroyed) return // killed meanwhile
        if (mode.kind === 'unavailable') {
          res.writeHead(503, { ...headers, 'content-type': 'text/plain' }).end(`soak-503 ${id} ${this.name}\n`)
        } else if (req.method === 'POST') {
          res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream' }).end(Buffer.concat(chunks))
        } else {
          res.writeHead(200, { ...headers, 'content-type': 'text/plain' }).end(`soak ${id} ${this.name}\n`)
        }
      }
      if (mode.kind === 'slow') setTimeout(answer, mode.delayMs)
      else answer()
    })
  }
}

async function run(names: readonly string[]): Promise<void> {
  const targets = new Map(names.map((n) => [n, new Target(n)]))
  for (const t of targets.values()) await t.listen(0)
  const send = (reply: Reply): void => void process.send?.(reply)
  send({ seq: 0, ports: Object.fromEntries([...targets].map(([n, t]) => [n, t.port])) })

  process.on('message', (msg: CommandMessage) => {
    const { seq, command } = msg
    const target = command.op === 'counts' ? undefined : targets.get(command.name)
    const done = (p: Promise<void>): void => {
      p.then(() => send({ seq }), (err: Error) => send({ seq, error: err.message }))
    }
    if (command.op === 'counts') {
      send({ seq, counts: Object.fromEntries([...targets].map(([n, t]) => [n, t.requests])) })
    } else if (target === undefined) {
      send({ seq, error: `no target named ${command.name}` })
    } else if (command.op === 'kill') {
      done(target.kill())
    } else if (command.op === 'restart') {
      done(target.listen(target.port))
    } else {
      target.mode = command.mode
      send({ seq })
    }
  })
  // The parent is gone (finished, crashed or killed): nothing more to serve.
  process.on('disconnect', () => process.exit(0))
}

if (process.send === undefined) {
  console.error('scripts/soak/targets.ts is started by scripts/soak.ts (it needs an IPC channel)')
  process.exit(2)
}
await run(process.argv.slice(2))
