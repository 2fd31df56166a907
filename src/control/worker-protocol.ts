/**
 * What the primary and its data-plane workers say to each other over the IPC channel, the primary's end
 * of one worker's channel (`WorkerProcess`), and the configuration snapshot a worker runs, with the ports
 * the primary reserves for it (`reservePorts`). Every request names what answers it (`replyKey`), so the
 * primary waits for that answer with a time limit: a wedged worker cannot hang it.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createServer, isIPv6 } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { ReloadSummary } from '../balancer.ts'
import { formatAddress, parseListenAddress } from '../config/address.ts'
import type { Config } from '../config/schema.ts'
import type { HealthUpdate } from './data-plane.ts'
import type { MetricsJson } from '../observe/data-plane-observer.ts'
import type { RateUsage } from '../protection/rate-limit-sync.ts'

/** Primary -> worker. */
export type ToWorker =
  /** Open the listeners of this snapshot; answered by `ready` or `error` (then the worker exits). */
  | { readonly type: 'start'; readonly config: Config; readonly health: readonly HealthUpdate[] }
  /** Swap in this snapshot; answered by `applied` or `error` with the same seq. */
  | { readonly type: 'apply'; readonly seq: number; readonly config: Config; readonly health: readonly HealthUpdate[] }
  /** Target states changed; not answered. */
  | { readonly type: 'health'; readonly updates: readonly HealthUpdate[] }
  | { readonly type: 'inFlight'; readonly id: number }
  /** The worker's metrics (`registry.getMetricsAsJSON()`), for GET /metrics on the primary. */
  | { readonly type: 'metrics'; readonly id: number }
  /** Open the access log files again (the primary got SIGUSR1); not answered. */
  | { readonly type: 'reopen' }
  /** Drain and exit; answered by `stopped` just before the exit. */
  | { readonly type: 'stop'; readonly drainTimeout: number }
  /** Requests the other workers' rate limits let through (src/protection/rate-limit-sync.ts); not answered. */
  | { readonly type: 'rateUsage'; readonly usage: RateUsage }

/** Worker -> primary. Ports travel with `ready` and `applied`: they only change then. */
export type FromWorker =
  | { readonly type: 'ready'; readonly ports: Record<string, number> }
  | { readonly type: 'applied'; readonly seq: number; readonly summary: ReloadSummary; readonly ports: Record<string, number> }
  | { readonly type: 'error'; readonly seq?: number; readonly message: string }
  | { readonly type: 'inFlight'; readonly id: number; readonly counts: Record<string, number> }
  /** undefined when the worker counts no metrics. */
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: MetricsJson | undefined }
  | { readonly type: 'stopped' }
  /** What this worker's rate limits let through lately, for the primary to pass on to the others. */
  | { readonly type: 'rateUsage'; readonly usage: RateUsage }

/** The key a request's answer arrives under; `health` and `reopen` have none. */
export function requestKey(msg: ToWorker): string | undefined {
  switch (msg.type) {
    case 'start': return 'start'
    case 'apply': return `apply:${msg.seq}`
    case 'inFlight': return `inFlight:${msg.id}`
    case 'metrics': return `metrics:${msg.id}`
    case 'stop': return 'stop'
    case 'health': case 'reopen': case 'rateUsage': return undefined
  }
}

export function replyKey(msg: FromWorker): string {
  switch (msg.type) {
    case 'ready': return 'start'
    case 'applied': return `apply:${msg.seq}`
    case 'error': return msg.seq === undefined ? 'start' : `apply:${msg.seq}`
    case 'inFlight': return `inFlight:${msg.id}`
    case 'metrics': return `metrics:${msg.id}`
    case 'stopped': return 'stop'
    case 'rateUsage': return 'rateUsage'
  }
}

/** An answer, or why none came: the worker exited, or the time limit passed. */
export type Answer = FromWorker | { readonly type: 'gone' } | { readonly type: 'timeout' }

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.ts', import.meta.url))
/**
 * A worker's observer: none (tests that drive workers without one), access logs only, or access logs and
 * metrics; `configDir` is where relative access log paths start.
 */
export type WorkerObserve = { readonly mode: 'none' } | { readonly mode: 'logs' | 'metrics'; readonly configDir: string }

/** Set in every worker's environment (to its slot), so that a worker can never start workers itself. */
export const WORKER_ENV = 'FULCRUM_WORKER'

/**
 * The primary's end of one worker: a forked src/worker/main.ts with an IPC channel (structured clone),
 * sharing the primary's stdout and stderr, so its logs go where the primary's go.
 */
export class WorkerProcess {
  readonly slot: number
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<Exit>
  /** Set once it answered `ready`: its listeners are open. */
  serving = false
  /** Messages that are not answers (rate usage to pass on). */
  onNotice: ((msg: FromWorker) => void) | undefined
  readonly #pending = new Map<string, (a: Answer) => void>()
  #gone = false

  /** `observe`: what the worker's observer does (src/worker/main.ts reads it from its arguments). */
  constructor(slot: number, logLevel: string, observe: WorkerObserve = { mode: 'none' }) {
    this.slot = slot
    const observeArgs = observe.mode === 'none' ? [] : [observe.mode, observe.configDir]
    this.child = fork(WORKER_ENTRY, [logLevel, String(slot), ...observeArgs], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Not the primary's own flags: `-e CODE` or `--test` there would make every worker run that code
      // instead of its entry. Node flags meant for workers go through NODE_OPTIONS, which they inherit.
      execArgv: [],
      env: { ...process.env, [WORKER_ENV]: String(slot) },
    })
    this.pid = this.child.pid ?? -1
    this.child.on('message', (msg: unknown) => {
      if (!isFromWorker(msg)) return
      if (msg.type === 'ready') this.serving = true
      if (msg.type === 'rateUsage') this.onNotice?.(msg)
      else this.#pending.get(replyKey(msg))?.(msg)
    })
    // A failed send or spawn also ends in 'exit' (or never started: pid -1, handled as gone below).
    this.child.on('error', () => {})
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.#gone = true
        for (const answer of [...this.#pending.values()]) answer({ type: 'gone' })
        resolve({ code, signal })
      }
      if (this.child.pid === undefined) queueMicrotask(() => done(null, null))
      else this.child.once('exit', done)
    })
  }

  get alive(): boolean {
    return !this.#gone && this.child.connected
  }

  /** Fire and forget (`health`, `stop`); dropped when the worker is gone. */
  send(msg: ToWorker): void {
    if (this.alive) this.child.send(msg, () => {})
  }

  /** Sends a request and resolves with its answer, or `gone`, or `timeout` after `ms`. Never rejects. */
  ask(msg: ToWorker, ms: number): Promise<Answer> {
    const key = requestKey(msg)
    if (key === undefined || !this.alive) return Promise.resolve({ type: 'gone' })
    return new Promise((resolve) => {
      const finish = (a: Answer): void => {
        clearTimeout(timer)
        this.#pending.delete(key)
        resolve(a)
      }
      const timer = setTimeout(() => finish({ type: 'timeout' }), ms)
      this.#pending.set(key, finish)
      this.child.send(msg, (err) => { if (err !== null) finish({ type: 'gone' }) })
    })
  }

  /** True when the worker exited within `ms`. */
  async exitedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
    try {
      return await Promise.race([this.exited.then(() => true as const), late])
    } finally {
      clearTimeout(timer)
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }
}

export function isFromWorker(msg: unknown): msg is FromWorker {
  if (typeof msg !== 'object' || msg === null) return false
  const type = (msg as { type?: unknown }).type
  return type === 'ready' || type === 'applied' || type === 'error' || type === 'inFlight' || type === 'metrics' || type === 'stopped'
    || type === 'rateUsage'
}

/**
 * The configuration every worker runs, made from the validated one:
 * - listeners that asked for port 0 get the port the primary reserved for them (`ports`, by listener
 *   name), so that every worker binds the same port and the kernel spreads connections among them;
 * - limits meant for the whole balancer are divided between the workers, because each worker enforces
 *   its own with no coordination on the request path: a target's `maxConns` becomes ceil(maxConns / N)
 *   per worker (ceil: a share of 0 would mean "no limit", so the total may exceed maxConns by up to
 *   N - 1), and a retry budget's `minPerSecond` becomes minPerSecond / N (its `ratio` is a share of
 *   each worker's own requests, so it stays). Passive health (maxFails within failTimeout) stays per
 *   worker, as in nginx without a shared zone: a target one worker marks down still gets the others'
 *   requests until they see failures too. Upstream pools (`connections`) are per worker, as nginx's
 *   keepalive is per worker process.
 */
export function workerSnapshot(config: Config, workers: number, ports: ReadonlyMap<string, number>): Config {
  const listeners = config.listeners.map((l) => {
    const parsed = parseListenAddress(l.listen)
    const port = ports.get(l.name)
    if ('error' in parsed || parsed.port !== 0 || port === undefined) return l
    return { ...l, listen: formatAddress(parsed.host, port) }
  })
  const targetGroups: Config['targetGroups'] = {}
  for (const [name, g] of Object.entries(config.targetGroups)) {
    targetGroups[name] = {
      ...g,
      targets: g.targets.map((t) => (t.maxConns > 0 ? { ...t, maxConns: Math.ceil(t.maxConns / workers) } : t)),
      retries: { ...g.retries, budget: { ...g.retries.budget, minPerSecond: g.retries.budget.minPerSecond / workers } },
    }
  }
  const perWorker = (n: number | undefined): number | undefined => (n === undefined ? undefined : Math.ceil(n / workers))
  return {
    ...config,
    maxConnections: perWorker(config.maxConnections),
    // Connection limits are counted in each worker (the kernel spreads a client's connections over them).
    listeners: listeners.map((l) => l.protocol === 'udp' || l.connectionLimits === undefined ? l : {
      ...l, connectionLimits: { ...l.connectionLimits, perClient: perWorker(l.connectionLimits.perClient), total: perWorker(l.connectionLimits.total) },
    }),
    targetGroups,
  }
}

/** Ports held in the primary for a snapshot's new listeners; release once the workers have bound them. */
export interface Reserved {
  /** The port for each listener that asks for port 0, by name. */
  readonly ports: Map<string, number>
  release(): Promise<void>
}

/**
 * Checks the ports of new listeners in the primary before any worker sees the snapshot:
 * - port 0: every worker must bind the same port, so the primary binds port 0 itself (with SO_REUSEPORT,
 *   so the workers can join) and holds it until they have: no other process can take it meanwhile, and
 *   no client connects to this never-accepting socket, as nobody knows the port yet. A listener whose
 *   name and listen stay the same keeps its port across reloads (`zeroPorts`, from the last snapshot).
 * - any other port the workers do not hold yet: workers bind with SO_REUSEPORT, which would quietly
 *   share a port with another process doing the same (a second Fulcrum, say); an exclusive bind first
 *   makes a port in use an error, as it is with one process.
 */
export async function reservePorts(config: Config, previous: Config | undefined, running: Config | undefined,
  zeroPorts: ReadonlyMap<string, number>): Promise<Reserved> {
  const held: Held[] = []
  const release = async (): Promise<void> => { await Promise.all(held.map((h) => h.close())) }
  const ports = new Map<string, number>()
  const bound = new Set(running?.listeners.map((l) => addressKey(l.listen, l.protocol === 'udp')))
  try {
    for (const l of config.listeners) {
      const a = parseListenAddress(l.listen)
      if ('error' in a) continue
      const udp = l.protocol === 'udp'
      if (a.port === 0) {
        const same = previous?.listeners.some((p) => p.name === l.name && p.listen === l.listen && (p.protocol === 'udp') === udp)
        const kept = same === true ? zeroPorts.get(l.name) : undefined
        if (kept !== undefined) { ports.set(l.name, kept); continue }
        const socket = await bind(l.name, a.host, 0, true, udp)
        held.push(socket)
        ports.set(l.name, socket.port)
      } else if (!bound.has(addressKey(l.listen, udp))) {
        await (await bind(l.name, a.host, a.port, false, udp)).close()
      }
    }
  } catch (err) {
    await release()
    throw err
  }
  return { ports, release }
}

function addressKey(listen: string | number, udp: boolean): string {
  const a = parseListenAddress(listen)
  return `${udp ? 'udp ' : ''}${'error' in a ? String(listen) : formatAddress(a.host, a.port)}`
}

/** A bound socket held for a while: a TCP server, or for UDP listeners a datagram socket. */
interface Held {
  readonly port: number
  close(): Promise<void>
}

function bind(name: string, host: string | undefined, port: number, reusePort: boolean, udp: boolean): Promise<Held> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use (by another process)'
        : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.message
      reject(new Error(`listener ${name} cannot listen on ${formatAddress(host, port)}${udp ? '/udp' : ''}: ${why}`, { cause: err }))
    }
    if (udp) {
      // As the UDP listener binds: IPv6 (taking IPv4 too) unless the address is IPv4.
      const type = host !== undefined && !isIPv6(host) ? 'udp4' : 'udp6'
      const socket = createSocket({ type, reusePort })
      socket.once('error', fail)
      socket.bind({ address: host ?? (type === 'udp6' ? '::' : '0.0.0.0'), port }, () => resolve({
        port: socket.address().port,
        close: () => new Promise((done) => socket.close(() => done())),
      }))
      return
    }
    const server = createServer()
    server.once('error', fail)
    server.listen({ host, port, reusePort }, () => resolve({
      port: (server.address() as { port: number }).port,
      close: () => new Promise((done) => server.close(() => done())),
    }))
  })
}
