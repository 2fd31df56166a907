/**
 * Starts nginx and Fulcrum on their copies of the configuration and stops them: each a child process of
 * this one, ready when every listen port accepts a connection, refused when it exits first (with what
 * it said on stderr).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CLI = join(ROOT, 'src/cli/main.ts')
/** How long a server may take to listen; Fulcrum's start (TypeScript, one process) takes under a second. */
const START_MS = 10_000

export const NGINX = process.env.NGINX ?? '/usr/sbin/nginx'

let prefix: string | undefined

/** nginx's compiled-in prefix (`--prefix=` in `nginx -V`), where relative load_module paths point. */
export function nginxPrefix(): string {
  if (prefix === undefined) {
    const version = spawnSync(NGINX, ['-V'], { encoding: 'utf8' })
    prefix = /--prefix=(\S+)/.exec(`${version.stdout ?? ''}${version.stderr ?? ''}`)?.[1] ?? '/usr/local/nginx'
  }
  return prefix
}

export type Started =
  | { ok: true; server: Running }
  | { ok: false; output: string }

/** Every server process still running, for stopAll. */
const live = new Set<Running>()
let stopping = false

/**
 * Stops every nginx and Fulcrum this process started, and any it starts from now on (on Ctrl-C, so none is
 * left behind while other cases are still starting theirs).
 */
export async function stopAll(): Promise<void> {
  stopping = true
  await Promise.all([...live].map((r) => r.stop()))
}

export class Running {
  readonly child: ChildProcess
  output = ''
  #exit: Promise<void>

  constructor(child: ChildProcess) {
    this.child = child
    live.add(this)
    child.once('exit', () => live.delete(this))
    if (stopping) child.kill('SIGTERM')
    child.stdout?.setEncoding('utf8').on('data', (c: string) => { this.output += c })
    child.stderr?.setEncoding('utf8').on('data', (c: string) => { this.output += c })
    this.#exit = new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) done()
      else child.once('exit', () => done())
    })
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** SIGTERM (nginx's fast stop, Fulcrum's drain of an idle server), then SIGKILL after a second. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => { if (this.running) this.child.kill('SIGKILL') }, 1_000)
    await this.#exit
    clearTimeout(timer)
  }

  /**
   * Resolves true once the process says it listens (`listening()`) and every port accepts, false when the
   * process exits first or START_MS passes. A port alone is not proof: another program may have taken it
   * between the harness choosing it and the server binding it.
   */
  async ready(targets: readonly { host: string; port: number }[], listening: () => boolean): Promise<boolean> {
    const deadline = Date.now() + START_MS
    for (;;) {
      if (!this.running) return false
      const open = listening() && (await Promise.all(targets.map((t) => accepts(t.host, t.port)))).every(Boolean)
      if (open) return this.running
      if (Date.now() > deadline) return false
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

/** nginx in the foreground with its pid, error log and temp folders in `dir`; it writes the pid file once it listens. */
export async function startNginx(file: string, dir: string, targets: readonly { host: string; port: number }[]): Promise<Started> {
  const pid = join(dir, 'nginx.pid')
  const global = `daemon off; master_process on; pid ${pid}; error_log ${join(dir, 'nginx-error.log')} notice;`
  const child = spawn(NGINX, ['-p', `${dir}/`, '-c', file, '-e', join(dir, 'nginx-error.log'), '-g', global], { stdio: ['ignore', 'pipe', 'pipe'] })
  return started(new Running(child), targets, 'nginx', () => existsSync(pid))
}

/** `fulcrum start -c FILE --format nginx` with the admin API off; it logs "fulcrum started" once every listener listens. */
export async function startFulcrum(file: string, targets: readonly { host: string; port: number }[]): Promise<Started> {
  const child = spawn(process.execPath, [CLI, 'start', '-c', file, '--format', 'nginx', '--log-level', 'info'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FULCRUM_ADMIN_LISTEN: 'off', NO_COLOR: '1' },
  })
  const server = new Running(child)
  return started(server, targets, 'fulcrum', () => server.output.includes('"msg":"fulcrum started"'))
}

async function started(server: Running, targets: readonly { host: string; port: number }[], name: string, listening: () => boolean): Promise<Started> {
  const err = await new Promise<Error | undefined>((done) => {
    server.child.once('error', done)
    server.child.once('spawn', () => done(undefined))
  })
  if (err !== undefined) return { ok: false, output: `${name} could not be started: ${err.message}` }
  if (await server.ready(targets, listening)) return { ok: true, server }
  const wasRunning = server.running
  await server.stop()
  const exit = server.child.signalCode !== null ? `killed by ${server.child.signalCode}` : `exit code ${server.child.exitCode}`
  // Fulcrum's refusal is on stderr; its info lines (JSON) are not part of it.
  const output = server.output.split('\n').filter((l) => !l.startsWith('{"level":30')).join('\n').trim()
  return { ok: false, output: wasRunning ? `${name} did not listen within ${START_MS} ms\n${output}` : output || `${name} exited without a word (${exit})` }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port })
    socket.once('connect', () => { socket.destroy(); done(true) })
    socket.once('error', () => done(false))
  })
}
