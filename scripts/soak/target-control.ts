/**
 * The parent's side of the soak targets (scripts/soak/targets.ts): forks the process, learns its ports, and
 * sends it chaos commands over IPC, each answered or failed within a bound. The process is killed on every
 * way out of the parent, and exits by itself when the IPC channel closes.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export type Mode = { kind: 'normal' } | { kind: 'unavailable' } | { kind: 'slow'; delayMs: number }

export type Command =
  | { op: 'kill'; name: string }
  | { op: 'restart'; name: string }
  | { op: 'mode'; name: string; mode: Mode }
  | { op: 'counts' }

export interface CommandMessage {
  readonly seq: number
  readonly command: Command
}

/** seq 0 is the ready message, sent unasked once every server listens. */
export interface Reply {
  readonly seq: number
  readonly error?: string
  readonly ports?: Record<string, number>
  /** Requests to /soak/ each target received, chaos answers included. */
  readonly counts?: Record<string, number>
}

const SCRIPT = fileURLToPath(new URL('./targets.ts', import.meta.url))
const COMMAND_TIMEOUT_MS = 10_000

export class TargetProcess {
  readonly child: ChildProcess
  readonly ports: Record<string, number>
  #seq = 0
  readonly #pending = new Map<number, (r: Reply) => void>()

  private constructor(child: ChildProcess, ports: Record<string, number>) {
    this.child = child
    this.ports = ports
    child.on('message', (r: Reply) => {
      this.#pending.get(r.seq)?.(r)
      this.#pending.delete(r.seq)
    })
  }

  static async start(names: readonly string[], timeoutMs = 15_000): Promise<TargetProcess> {
    // Own process group, so a Ctrl-C reaches only the soak, which then stops this process itself.
    const child = fork(SCRIPT, [...names], { detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execPath: process.execPath })
    process.on('exit', () => child.kill('SIGKILL'))
    const ready = await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`soak targets did not start within ${timeoutMs} ms`)), timeoutMs)
      child.once('message', (r: Reply) => (clearTimeout(timer), resolve(r)))
      child.once('exit', (code, signal) => (clearTimeout(timer), reject(new Error(`soak targets exited (${signal ?? code}) before they were ready`))))
    })
    return new TargetProcess(child, ready.ports ?? {})
  }

  address(name: string): string {
    return `127.0.0.1:${this.ports[name]}`
  }

  send(command: Command): Promise<Reply> {
    const seq = ++this.#seq
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq)
        reject(new Error(`soak targets did not answer ${command.op} within ${COMMAND_TIMEOUT_MS} ms`))
      }, COMMAND_TIMEOUT_MS)
      this.#pending.set(seq, (r) => {
        clearTimeout(timer)
        if (r.error !== undefined) reject(new Error(r.error))
        else resolve(r)
      })
      this.child.send({ seq, command } satisfies CommandMessage)
    })
  }

  async counts(): Promise<Record<string, number>> {
    return (await this.send({ op: 'counts' })).counts ?? {}
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }
}
