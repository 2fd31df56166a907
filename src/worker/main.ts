/**
 * A data-plane worker process, forked by WorkerDataPlane (src/control/worker-data-plane.ts) with
 * `[logLevel, slot]` as arguments, then `[logs|metrics, configDir]` when it observes requests: it writes
 * its own access logs and counts metrics that the primary asks for. It runs one Balancer with SO_REUSEPORT
 * listeners and does what the primary says over IPC (src/control/worker-protocol.ts). It runs no health
 * checks: the primary does, once for all workers, and pushes the states here.
 *
 * It drains and exits when told to stop, on SIGTERM/SIGINT, and when the IPC channel closes: a worker
 * whose primary died must not serve on with no one to reload it or check its targets.
 */
import type { LevelWithSilent } from 'pino'
import { Balancer } from '../balancer.ts'
import type { HealthUpdate } from '../control/data-plane.ts'
import type { FromWorker, ToWorker } from '../control/worker-protocol.ts'
import { createLogger, LOG_LEVELS } from '../log.ts'
import { DataPlaneObserver } from '../observe/data-plane-observer.ts'
import { absorbUsage, collectUsage, SYNC_INTERVAL_MS } from '../protection/rate-limit-sync.ts'

const [levelArg = 'info', slotArg = '0', observeArg, configDir = process.cwd()] = process.argv.slice(2)
const level = (LOG_LEVELS as readonly string[]).includes(levelArg) ? (levelArg as LevelWithSilent) : 'info'
const log = createLogger(level).child({ worker: Number(slotArg) })
const observer = observeArg === 'logs' || observeArg === 'metrics'
  ? new DataPlaneObserver(log, { metrics: observeArg === 'metrics', configDir })
  : undefined
const balancer = new Balancer({ log, reusePort: true, observer })
// Rate limits hold across workers: share what each lets through (src/protection/rate-limit-sync.ts).
balancer.rateZones.shareWithWorkers()
setInterval(() => {
  const usage = collectUsage(balancer.rateZones)
  if (usage !== undefined) send({ type: 'rateUsage', usage })
}, SYNC_INTERVAL_MS).unref()

/** Starts and applies run one at a time, in the order they came. */
let queue: Promise<void> = Promise.resolve()
let drainTimeout = 30_000
let stopping: Promise<void> | undefined

// As in the one-process CLI: one request's failure must never take the worker down.
process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception (the worker keeps running)'))
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (the worker keeps running)'))

function send(msg: FromWorker, then?: () => void): void {
  if (process.connected && process.send !== undefined) process.send(msg, undefined, {}, () => then?.())
  else then?.()
}

function setHealth(updates: readonly HealthUpdate[]): void {
  for (const u of updates) balancer.health.set(u.group, u.address, u.state)
}

function stop(timeout: number, why: string): Promise<void> {
  stopping ??= queue.then(async () => {
    log.info({ why, drainTimeout: timeout }, 'worker stopping: draining requests in flight')
    await balancer.stop(timeout)
    await observer?.close()
    send({ type: 'stopped' }, () => process.exit(0))
  })
  return stopping
}

process.on('message', (msg: ToWorker) => {
  // States are set on arrival, not queued, so they keep the order the primary sent them in.
  switch (msg.type) {
    case 'start':
      setHealth(msg.health)
      queue = queue.then(async () => {
        try {
          observer?.configure(msg.config)
          await balancer.start(msg.config)
          drainTimeout = msg.config.drainTimeout
          send({ type: 'ready', ports: balancer.ports() })
        } catch (err) {
          send({ type: 'error', message: (err as Error).message }, () => process.exit(1))
        }
      })
      return
    case 'apply': {
      setHealth(msg.health)
      queue = queue.then(async () => {
        if (stopping !== undefined) return
        const old = balancer.model?.config
        try {
          observer?.configure(msg.config)
          const summary = await balancer.reload(msg.config)
          drainTimeout = msg.config.drainTimeout
          send({ type: 'applied', seq: msg.seq, summary, ports: balancer.ports() })
        } catch (err) {
          if (old !== undefined) observer?.configure(old)
          send({ type: 'error', seq: msg.seq, message: (err as Error).message })
        }
      })
      return
    }
    case 'health':
      setHealth(msg.updates)
      return
    case 'inFlight':
      send({ type: 'inFlight', id: msg.id, counts: balancer.inFlight() })
      return
    case 'metrics':
      void (observer?.metrics() ?? Promise.resolve(undefined)).then((metrics) => send({ type: 'metrics', id: msg.id, metrics }))
      return
    case 'reopen':
      observer?.reopenLogs()
      return
    case 'stop':
      void stop(msg.drainTimeout, 'asked by the primary')
      return
    case 'rateUsage':
      absorbUsage(balancer.rateZones, msg.usage, performance.now())
      return
  }
})

process.on('disconnect', () => void stop(drainTimeout, 'the primary is gone'))

// Ctrl-C in a terminal and a service manager's stop signal the whole process group. The primary, signalled
// too, then stops every worker itself and replaces none; so a worker waits a moment for that. A worker
// signalled alone drains by itself after the moment, and the primary replaces it.
const PRIMARY_STOP_GRACE_MS = 1_000
const onSignal = (signal: NodeJS.Signals): void => {
  setTimeout(() => void stop(drainTimeout, signal), process.connected ? PRIMARY_STOP_GRACE_MS : 0)
}
process.on('SIGTERM', onSignal)
process.on('SIGINT', onSignal)
// The primary passes SIGUSR1 on over IPC; a worker signalled itself (kill -USR1 to the process group)
// reopens too. Handling it also keeps Node from starting its inspector, SIGUSR1's default.
process.on('SIGUSR1', () => observer?.reopenLogs())
