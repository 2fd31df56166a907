/**
 * Runs the real `fulcrum` CLI (or any script) as a child process for integration tests: output captured,
 * every wait bounded, and the process killed after the test whatever happened. Also: free ports, and
 * polls for "this port answers HTTP", "this port accepts connections" and "this port refuses them".
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { Agent, request } from 'undici'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The Node 24 pinned by the project: the machine's own node may be too old for type stripping. */
export const NODE = join(ROOT, 'node_modules/.bin/node')
export const CLI = join(ROOT, 'src/cli/main.ts')

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export class Child {
  readonly process: ChildProcess
  readonly name: string
  stdout = ''
  stderr = ''
  /** Resolves when the process has exited and its output is read to the end (or 1 s after the exit). */
  readonly exited: Promise<Exit>
  #exit: Exit | undefined
  readonly #watchers = new Set<() => void>()

  constructor(proc: ChildProcess, name: string) {
    this.process = proc
    this.name = name
    proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => { this.stdout += chunk; this.#notify() })
    proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk; this.#notify() })
    // After 'exit', wait for 'close' so stdout and stderr are complete, but not forever: a grandchild that
    // inherited the pipes (the quick start's backends) keeps them open after this process is gone.
    this.exited = new Promise((resolve) => {
      const settle = (exit: Exit): void => {
        if (this.#exit !== undefined) return
        this.#exit = exit
        this.#notify()
        resolve(exit)
      }
      proc.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        const timer = setTimeout(() => settle({ code, signal }), 1_000)
        proc.once('close', () => { clearTimeout(timer); settle({ code, signal }) })
      })
      // Could not start at all (no such command): an exit without a code, the reason on stderr.
      proc.on('error', (err) => {
        if (proc.pid !== undefined) return
        this.stderr += `${err.message}\n`
        settle({ code: null, signal: null })
      })
    })
  }

  get pid(): number {
    return this.process.pid as number
  }

  /** The exit once it happened, else undefined. */
  get exit(): Exit | undefined {
    return this.#exit
  }

  get running(): boolean {
    return this.#exit === undefined && this.process.exitCode === null && this.process.signalCode === null
  }

  get output(): string {
    return `--- ${this.name} stdout ---\n${this.stdout}\n--- ${this.name} stderr ---\n${this.stderr}`
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.process.kill(signal)
  }

  /** Waits for the exit, or fails after `ms` with the output so far. */
  async waitForExit(ms = 5_000): Promise<Exit> {
    await this.#until(() => this.#exit !== undefined, ms, 'exit')
    return this.#exit as Exit
  }

  /** Waits until stdout or stderr contains `pattern` `times` times, or fails after `ms` (or at exit). */
  async waitForOutput(pattern: string | RegExp, ms = 5_000, times = 1): Promise<void> {
    const count = (): number => countMatches(this.stdout + this.stderr, pattern)
    await this.#until(() => count() >= times, ms, `output ${String(pattern)} x${times}`, true)
  }

  /**
   * SIGKILL (if still running) and wait for the exit, then drop the pipes so that a grandchild still
   * holding them cannot keep the test process alive; for t.after.
   */
  async kill(): Promise<void> {
    if (this.running) this.process.kill('SIGKILL')
    try {
      await withTimeout(this.exited, 5_000, `${this.name} did not die on SIGKILL`)
    } finally {
      this.process.stdout?.destroy()
      this.process.stderr?.destroy()
    }
  }

  /** Pids of this process's direct children, as far as Linux's /proc tells (empty elsewhere). */
  children(): number[] {
    try {
      return readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    } catch {
      return []
    }
  }

  #notify(): void {
    for (const w of this.#watchers) w()
  }

  #until(ready: () => boolean, ms: number, what: string, failOnExit = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (ready()) finish()
        else if (failOnExit && this.#exit !== undefined) finish(new Error(`${this.name} exited (${describe(this.#exit)}) before ${what}\n${this.output}`))
      }
      const finish = (err?: Error): void => {
        clearTimeout(timer)
        this.#watchers.delete(check)
        if (err === undefined) resolve()
        else reject(err)
      }
      const timer = setTimeout(() => finish(new Error(`${this.name}: no ${what} within ${ms} ms\n${this.output}`)), ms)
      this.#watchers.add(check)
      check()
    })
  }
}

function describe(exit: Exit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`
}

function countMatches(text: string, pattern: string | RegExp): number {
  if (typeof pattern === 'string') return text.split(pattern).length - 1
  return [...text.matchAll(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`))].length
}

/**
 * Starts `command args…` from the project root with captured output; killed after the test, after
 * `beforeKill` (say, to end the processes it started itself while it can still tell their pids).
 */
export function spawnCommand(t: TestContext, command: string, args: string[], name: string, beforeKill?: (child: Child) => void): Child {
  const child = new Child(spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } }), name)
  t.after(async () => {
    try {
      beforeKill?.(child)
    } finally {
      await child.kill()
    }
  })
  return child
}

/** Starts `node args…` with the project's Node 24; see spawnCommand. */
export function spawnNode(t: TestContext, args: string[], name = args.join(' '), beforeKill?: (child: Child) => void): Child {
  return spawnCommand(t, NODE, args, name, beforeKill)
}

/** SIGKILLs the children of a process that is still running (for a launcher or script that spawns). */
export function killChildren(child: Child): void {
  if (!child.running) return
  for (const pid of child.children()) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

/** Starts `fulcrum args…` (src/cli/main.ts); killed after the test. */
export function spawnFulcrum(t: TestContext, args: string[]): Child {
  return spawnNode(t, [CLI, ...args], `fulcrum ${args.join(' ')}`)
}

/** Runs `fulcrum args…` to its end (at most `ms`) and returns its exit and output. */
export async function runFulcrum(t: TestContext, args: string[], ms = 10_000): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawnFulcrum(t, args)
  const exit = await child.waitForExit(ms)
  return { ...exit, stdout: child.stdout, stderr: child.stderr }
}

/** A fresh temp folder, removed after the test; `write(name, text)` returns the file's path. */
export function tempDir(t: TestContext): { dir: string; write(name: string, text: string): string } {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return {
    dir,
    write: (name, text) => {
      const file = join(dir, name)
      writeFileSync(file, text)
      return file
    },
  }
}

/**
 * A port that was free a moment ago on 127.0.0.1 (bind 0, read, close). Another process may take it
 * before the child binds it; that race is rare and shows as a clear "already in use" start failure.
 */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** Whether `port` can be bound right now on every address (so also on 127.0.0.1). */
export async function portIsFree(port: number): Promise<boolean> {
  const server = createServer()
  try {
    server.listen(port)
    await once(server, 'listening')
  } catch {
    return false
  }
  server.close()
  await once(server, 'close')
  return true
}

/** One TCP connection attempt to 127.0.0.1:port: 'open', 'refused', or another error code. */
export function tryConnect(port: number, ms = 1_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const done = (outcome: string): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => done('timeout'), ms)
    socket.once('connect', () => done('open'))
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : err.code ?? err.message))
  })
}

/** Polls `check` every 20 ms until it returns true, or fails after `ms` saying what was awaited. */
export async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Waits until 127.0.0.1:port accepts TCP connections (sends no request, so no round-robin turn is used). */
export async function waitForListening(port: number, ms = 5_000, child?: Child): Promise<void> {
  await until(async () => {
    if (child !== undefined && !child.running) throw new Error(`${child.name} exited before port ${port} opened\n${child.output}`)
    return (await tryConnect(port)) === 'open'
  }, ms, `port ${port} to accept connections`)
}

/** Waits until 127.0.0.1:port refuses connections. */
export async function waitForRefused(port: number, ms = 5_000): Promise<void> {
  await until(async () => (await tryConnect(port)) === 'refused', ms, `port ${port} to refuse connections`)
}

/**
 * Waits until `url` answers HTTP (any status) and returns the status. Each probe uses its own
 * connection and closes it, so no idle keep-alive connection is left to hold up a drain.
 */
export async function waitForHttp(url: string, ms = 5_000, child?: Child): Promise<number> {
  let status = 0
  await until(async () => {
    if (child !== undefined && !child.running) throw new Error(`${child.name} exited before ${url} answered\n${child.output}`)
    const agent = new Agent({ connections: 1 })
    try {
      const res = await request(url, { dispatcher: agent, reset: true, headersTimeout: 1_000, bodyTimeout: 1_000 })
      await res.body.dump()
      status = res.statusCode
      return true
    } catch {
      return false
    } finally {
      await agent.destroy()
    }
  }, ms, `${url} to answer HTTP`)
  return status
}

/** Rejects with `message` if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms) }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A minimal Fulcrum YAML: one HTTP listener on 127.0.0.1:port forwarding everything to group app. The
 * admin API is off: its default port (9090) is fixed, so parallel tests would fight over it.
 */
export function yamlConfig(port: number, targets: string[], extra = ''): string {
  return `admin: { enabled: false }
${extra}listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:${port}
    routes:
      - forward: app
targetGroups:
  app:
    targets:
${targets.map((t) => `      - ${t}`).join('\n')}
`
}
