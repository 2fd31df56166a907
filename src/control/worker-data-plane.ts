/**
 * The data plane in N worker processes (`workers: N | auto`). Each worker runs the same `Balancer` as one
 * process does and binds every listener with SO_REUSEPORT, so the kernel spreads connections between
 * them and the primary never touches a request. The primary keeps the latest snapshot and target states,
 * pushes changes to every worker, and replaces a worker that dies with one started from the latest
 * snapshot while the others keep serving. Limits are divided between workers: see `workerSnapshot`.
 */
import { availableParallelism } from 'node:os'
import type { Logger } from 'pino'
import type { ReloadSummary } from '../balancer.ts'
import type { Config } from '../config/schema.ts'
import type { DataPlane, HealthUpdate } from './data-plane.ts'
import { reservePorts, WORKER_ENV, WorkerProcess, workerSnapshot, type Answer, type WorkerObserve } from './worker-protocol.ts'
import type { MetricsJson, ObserveOptions } from '../observe/data-plane-observer.ts'

/**
 * Where Node supports SO_REUSEPORT listeners, so the kernel can spread connections between workers (Node
 * docs: Linux 3.9+, FreeBSD 12+, Solaris 11.4, AIX 7.2.5+); elsewhere (macOS, Windows) listen fails.
 */
const REUSE_PORT_PLATFORMS: readonly string[] = ['linux', 'freebsd', 'sunos', 'aix']

/**
 * `workers: auto` is one per core the process may use, or 1 where workers cannot share a port. The CLI
 * keeps InProcessDataPlane for 1.
 */
export function resolveWorkers(value: number | 'auto', platform: string = process.platform): number {
  if (value !== 'auto') return value
  return REUSE_PORT_PLATFORMS.includes(platform) ? availableParallelism() : 1
}

export interface WorkerTimeouts {
  /** For a worker to open its listeners. Default 15s (loading the code takes most of it). */
  readonly start: number
  /** For a worker to swap in a snapshot; one that takes longer is killed and replaced. Default 10s. */
  readonly apply: number
  /** For a worker to report its requests in flight (or its metrics); one that does not counts as 0. Default 1s. */
  readonly inFlight: number
  /** Least time between two starts in one slot, so a worker dying in a loop does not spin. Default 1s. */
  readonly restartInterval: number
  /** After the drain timeout, how long a stopping worker may take before SIGKILL. Default 2s. */
  readonly stopGrace: number
}

const DEFAULT_TIMEOUTS: WorkerTimeouts = { start: 15_000, apply: 10_000, inFlight: 1_000, restartInterval: 1_000, stopGrace: 2_000 }

export interface WorkerDataPlaneOptions {
  readonly workers: number
  readonly log: Logger
  readonly timeouts?: Partial<WorkerTimeouts>
  /** Metrics and access logs in every worker; none by default. */
  readonly observe?: ObserveOptions
}

export class WorkerDataPlane implements DataPlane {
  readonly #count: number
  readonly #log: Logger
  readonly #timeouts: WorkerTimeouts
  readonly #observe: WorkerObserve
  readonly #slots: Array<WorkerProcess | undefined> = []
  readonly #lastStart: number[] = []
  readonly #restarts = new Set<NodeJS.Timeout>()
  /** Every target's latest state, so that a replacement worker starts with the states the others have. */
  readonly #health = new Map<string, HealthUpdate>()
  /** The config as the control plane gave it, and the snapshot made from it that the workers run. */
  #source: Config | undefined
  #snapshot: Config | undefined
  /** The port reserved for each listener that asks for port 0; kept across reloads while its listen stays. */
  #zeroPorts = new Map<string, number>()
  #ports: Record<string, number> = {}
  #seq = 0
  #queue: Promise<unknown> = Promise.resolve()
  #running = false
  #stopping = false

  constructor(options: WorkerDataPlaneOptions) {
    // Belt and braces against a fork bomb: whatever code a worker ends up running, it starts no workers.
    if (process.env[WORKER_ENV] !== undefined) throw new Error(`a data-plane worker (${WORKER_ENV}=${process.env[WORKER_ENV]}) cannot start workers`)
    this.#count = options.workers
    this.#log = options.log
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts }
    const o = options.observe
    this.#observe = o === undefined ? { mode: 'none' } : { mode: o.metrics ? 'metrics' : 'logs', configDir: o.configDir }
  }

  /** The workers serving now, a replacement once its listeners are open (for logs and tests). */
  workers(): Array<{ slot: number; pid: number }> {
    return this.#live().filter((w) => w.serving).map((w) => ({ slot: w.slot, pid: w.pid }))
  }

  async start(config: Config, health: readonly HealthUpdate[]): Promise<void> {
    if (!REUSE_PORT_PLATFORMS.includes(process.platform)) {
      throw new Error(`workers: ${this.#count} needs listeners that share a port (SO_REUSEPORT), which Node does not offer on ${process.platform}; use workers: 1`)
    }
    this.#replaceHealth(health)
    const reserved = await reservePorts(config, this.#source, this.#snapshot, this.#zeroPorts)
    try {
      const snapshot = workerSnapshot(config, this.#count, reserved.ports)
      const workers = Array.from({ length: this.#count }, (_, slot) => this.#fork(slot))
      const answers = await Promise.all(workers.map((w) => w.ask({ type: 'start', config: snapshot, health: this.#healthList() }, this.#timeouts.start)))
      const failed = answers.find((a) => a.type !== 'ready')
      if (failed !== undefined) {
        for (const w of workers) w.kill()
        await Promise.all(workers.map((w) => w.exited))
        throw new Error(describe(failed, 'start'))
      }
      this.#commit(config, snapshot, reserved.ports, answers[0])
      this.#running = true
      this.#log.info({ workerPids: workers.map((w) => w.pid) }, 'data-plane workers serving')
    } finally {
      await reserved.release()
    }
  }

  /** Resolves once every live worker serves the new snapshot; if one refuses it, all keep the old one. */
  apply(config: Config, health: readonly HealthUpdate[]): Promise<ReloadSummary> {
    return this.#serial(async () => {
      this.#replaceHealth(health)
      const reserved = await reservePorts(config, this.#source, this.#snapshot, this.#zeroPorts)
      try {
        const snapshot = workerSnapshot(config, this.#count, reserved.ports)
        const live = this.#live()
        const seq = ++this.#seq
        const answers = await Promise.all(live.map((w) => w.ask({ type: 'apply', seq, config: snapshot, health: this.#healthList() }, this.#timeouts.apply)))
        // A wedged worker must not hold up reloads: it is replaced, and the replacement starts from the
        // snapshot that ends up committed (replacements queue behind this apply).
        live.forEach((w, i) => {
          if (answers[i].type !== 'timeout') return
          this.#log.error({ worker: w.slot, workerPid: w.pid }, `data-plane worker did not apply the configuration within ${this.#timeouts.apply} ms; killing it`)
          w.kill()
        })
        const refused = answers.find((a) => a.type === 'error')
        if (refused !== undefined) {
          await this.#rollback(live.filter((_, i) => answers[i].type === 'applied'))
          throw new Error(describe(refused, 'apply'))
        }
        const applied = answers.find((a) => a.type === 'applied')
        if (applied === undefined) throw new Error('no data-plane worker is running; the old configuration stays')
        this.#commit(config, snapshot, reserved.ports, applied)
        return applied.summary
      } finally {
        await reserved.release()
      }
    })
  }

  setHealth(updates: readonly HealthUpdate[]): void {
    for (const u of updates) this.#health.set(`${u.group}\n${u.address}`, u)
    for (const w of this.#live()) w.send({ type: 'health', updates })
  }

  async inFlight(): Promise<Record<string, number>> {
    const sum: Record<string, number> = {}
    for (const w of await this.inFlightByWorker()) for (const [address, n] of Object.entries(w.counts)) sum[address] = (sum[address] ?? 0) + n
    return sum
  }

  /** Each live worker's requests in flight per target address; a worker that does not answer in time shows {}. */
  async inFlightByWorker(): Promise<Array<{ slot: number; pid: number; counts: Record<string, number> }>> {
    const live = this.#live()
    const answers = await Promise.all(live.map((w) => w.ask({ type: 'inFlight', id: ++this.#seq }, this.#timeouts.inFlight)))
    return live.map((w, i) => {
      const a = answers[i]
      if (a.type === 'inFlight') return { slot: w.slot, pid: w.pid, counts: a.counts }
      if (a.type === 'timeout') this.#log.warn({ worker: w.slot, workerPid: w.pid }, `data-plane worker did not report requests in flight within ${this.#timeouts.inFlight} ms; counted as 0`)
      return { slot: w.slot, pid: w.pid, counts: {} }
    })
  }

  /**
   * Each live worker's metrics. A worker that does not answer in time is left out of this scrape (its
   * counters seem to drop, which Prometheus's rate() reads as a reset); so is a replaced worker's history.
   */
  async metrics(): Promise<MetricsJson[]> {
    if (this.#observe.mode !== 'metrics') return []
    const live = this.#live()
    const answers = await Promise.all(live.map((w) => w.ask({ type: 'metrics', id: ++this.#seq }, this.#timeouts.inFlight)))
    const out: MetricsJson[] = []
    live.forEach((w, i) => {
      const a = answers[i]
      if (a.type === 'metrics' && a.metrics !== undefined) out.push(a.metrics)
      else if (a.type === 'timeout') this.#log.warn({ worker: w.slot, workerPid: w.pid }, `data-plane worker did not report its metrics within ${this.#timeouts.inFlight} ms; left out of this scrape`)
    })
    return out
  }

  /** SIGUSR1 reaches the primary; every worker writes its own access logs, so each is told to reopen. */
  reopenLogs(): void {
    for (const w of this.#live()) w.send({ type: 'reopen' })
  }

  /** Every worker listens on the same ports; they are reported with each start and apply. */
  async ports(): Promise<Record<string, number>> {
    return { ...this.#ports }
  }

  async stop(drainTimeout: number): Promise<void> {
    this.#stopping = true
    for (const t of this.#restarts) clearTimeout(t)
    this.#restarts.clear()
    await Promise.all(this.#slots.map(async (w) => {
      if (w === undefined) return
      w.send({ type: 'stop', drainTimeout })
      if (await w.exitedWithin(drainTimeout + this.#timeouts.stopGrace)) return
      this.#log.warn({ worker: w.slot, workerPid: w.pid }, 'data-plane worker still running after the drain timeout; killing it')
      w.kill()
      await w.exited
    }))
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => {})
    return run
  }

  #live(): WorkerProcess[] {
    return this.#slots.filter((w): w is WorkerProcess => w !== undefined && w.alive)
  }

  #fork(slot: number): WorkerProcess {
    const w = new WorkerProcess(slot, this.#log.level, this.#observe)
    // Rate limits: what one worker let through goes to every other (src/protection/rate-limit-sync.ts).
    w.onNotice = (msg) => {
      if (msg.type !== 'rateUsage') return
      for (const other of this.#live()) if (other !== w) other.send(msg)
    }
    this.#slots[slot] = w
    this.#lastStart[slot] = performance.now()
    void w.exited.then((exit) => this.#onExit(w, exit))
    return w
  }

  #onExit(w: WorkerProcess, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (!this.#running || this.#stopping || this.#slots[w.slot] !== w) return
    const wait = Math.max(0, this.#lastStart[w.slot] + this.#timeouts.restartInterval - performance.now())
    this.#log.warn({ worker: w.slot, workerPid: w.pid, ...exit, restartIn: Math.round(wait) }, 'data-plane worker exited; the others keep serving; replacing it')
    const timer = setTimeout(() => {
      this.#restarts.delete(timer)
      void this.#serial(() => this.#replace(w.slot))
    }, wait)
    this.#restarts.add(timer)
  }

  /** Starts a new worker in `slot` from the latest snapshot. If it fails, its exit schedules the next try. */
  async #replace(slot: number): Promise<void> {
    if (this.#stopping || this.#snapshot === undefined) return
    const w = this.#fork(slot)
    const a = await w.ask({ type: 'start', config: this.#snapshot, health: this.#healthList() }, this.#timeouts.start)
    if (a.type === 'ready') {
      this.#log.info({ worker: slot, workerPid: w.pid }, 'replacement data-plane worker serving')
      return
    }
    this.#log.error({ worker: slot, workerPid: w.pid, problem: describe(a, 'start') }, 'replacement data-plane worker did not start')
    w.kill()
  }

  /** Workers that applied a refused snapshot go back to the old one; one that cannot is replaced. */
  async #rollback(workers: WorkerProcess[]): Promise<void> {
    const old = this.#snapshot
    if (old === undefined) return
    const seq = ++this.#seq
    await Promise.all(workers.map(async (w) => {
      const a = await w.ask({ type: 'apply', seq, config: old, health: this.#healthList() }, this.#timeouts.apply)
      if (a.type === 'applied' || a.type === 'gone') return
      this.#log.error({ worker: w.slot, workerPid: w.pid, problem: describe(a, 'apply') }, 'data-plane worker could not return to the old configuration; replacing it')
      w.kill()
    }))
  }

  #commit(source: Config, snapshot: Config, zeroPorts: Map<string, number>, answer: Answer): void {
    this.#source = source
    this.#snapshot = snapshot
    this.#zeroPorts = zeroPorts
    if (answer.type === 'ready' || answer.type === 'applied') this.#ports = answer.ports
  }

  #replaceHealth(health: readonly HealthUpdate[]): void {
    this.#health.clear()
    for (const u of health) this.#health.set(`${u.group}\n${u.address}`, u)
  }

  #healthList(): HealthUpdate[] {
    return [...this.#health.values()]
  }
}

function describe(a: Answer, what: 'start' | 'apply'): string {
  switch (a.type) {
    case 'error': return a.message
    case 'timeout': return `a data-plane worker did not ${what} in time`
    case 'gone': return `a data-plane worker exited during ${what} (see its log)`
    default: return `a data-plane worker answered ${a.type} to ${what}`
  }
}
