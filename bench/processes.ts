/**
 * Child processes the bench starts: spawned in their own process group, remembered, and stopped on every
 * way out (normal end, error, Ctrl-C), so no nginx or proxy outlives a run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { request } from 'node:http'
import { connect, createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Managed {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  /** Last ~8 KB of stderr, for error messages when the process fails to come up. */
  stderrTail(): string
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>
  /** Resolves once its stdout and stderr are closed too: only then is all its output read. */
  readonly closed: Promise<void>
  exitedWith: number | string | undefined
}

const running = new Set<Managed>()

export interface SpawnOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Also append stdout+stderr to this file. */
  logFile?: string
}

/** Starts `argv` in a new process group (detached), so the whole tree can be signalled at once. */
export function spawnManaged(name: string, argv: readonly string[], opts: SpawnOptions = {}): Managed {
  const child = spawn(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (child.pid === undefined) throw new Error(`${name}: could not start ${argv[0]}`)
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined
  let tail = ''
  const onData = (chunk: Buffer) => {
    log?.write(chunk)
    tail = (tail + chunk.toString()).slice(-8192)
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const managed: Managed = {
    name,
    child,
    pid: child.pid,
    stderrTail: () => tail,
    exitedWith: undefined,
    closed: new Promise((resolve) => child.once('close', () => resolve())),
    exited: new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        managed.exitedWith = code ?? signal ?? 'unknown'
        running.delete(managed)
        log?.end()
        resolve(managed.exitedWith)
      })
    }),
  }
  running.add(managed)
  return managed
}

/** Sends `signal` to the process group; ignores groups that are already gone. */
function signalGroup(m: Managed, signal: NodeJS.Signals): void {
  try {
    process.kill(-m.pid, signal)
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** Asks politely (SIGTERM lets Node write its --cpu-prof file, nginx does a fast shutdown), then SIGKILL. */
export async function stop(m: Managed, graceMs = 5000): Promise<void> {
  if (m.exitedWith !== undefined) return signalGroup(m, 'SIGKILL') // leftover grandchildren, if any
  signalGroup(m, 'SIGTERM')
  const timer = sleep(graceMs).then(() => 'timeout')
  if ((await Promise.race([m.exited, timer])) === 'timeout') signalGroup(m, 'SIGKILL')
  await m.exited
  signalGroup(m, 'SIGKILL')
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((m) => stop(m)))
}

/** Last resort from synchronous exit paths: no waiting possible, so kill outright. */
function killAllNow(): void {
  for (const m of running) signalGroup(m, 'SIGKILL')
}

/** Ctrl-C, SIGTERM and crashes all end with every child stopped. */
export function installCleanup(): void {
  process.on('exit', killAllNow)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping everything the bench started\n`)
      void stopAll().finally(() => process.exit(130))
    })
  }
}

/** A port the kernel just handed out on 127.0.0.1; free unless someone grabs it in the next moment. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.setTimeout(1000)
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
    s.once('timeout', () => (s.destroy(), resolve(false)))
  })
}

/** GETs `path` once, with a fresh connection; resolves with status and body, or undefined on any error. */
export function httpGet(port: number, path = '/'): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', () => resolve(undefined))
    })
    req.once('timeout', () => req.destroy())
    req.once('error', () => resolve(undefined))
    req.end()
  })
}

/**
 * Polls until `port` accepts TCP and answers GET / with 200, for at most `timeoutMs`.
 * Throws with the process's output if it exits or never gets there.
 */
export async function waitUntilServing(m: Managed, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no TCP connection'
  while (Date.now() < deadline) {
    if (m.exitedWith !== undefined) break
    if (await tcpOpen(port)) {
      const res = await httpGet(port)
      if (res?.status === 200) return
      last = res ? `GET / answered ${res.status}` : 'GET / failed'
    }
    await sleep(100)
  }
  const why = m.exitedWith !== undefined ? `exited (${m.exitedWith})` : `not serving after ${timeoutMs / 1000}s (${last})`
  throw new Error(`${m.name} ${why} on 127.0.0.1:${port}; its output:\n${m.stderrTail().trim() || '(none)'}`)
}
