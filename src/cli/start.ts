/**
 * `fulcrum start -c FILE`: validate, start the control plane (state store, health checks, admin API) and
 * the data plane (in this process for `workers: 1`, else worker processes), then serve in the foreground.
 * SIGHUP re-reads the file (a bad file is logged and the old configuration keeps serving); SIGUSR1 reopens
 * the access logs (in every worker); SIGTERM/SIGINT drain and exit 0; a second stop signal exits at once.
 */
import { dirname, resolve } from 'node:path'
import type { LevelWithSilent, Logger } from 'pino'
import { startAdminServer, type AdminServer } from '../admin/server.ts'
import { formatProblem, loadConfig } from '../config/load.ts'
import type { Config } from '../config/schema.ts'
import { ControlPlane } from '../control/control-plane.ts'
import { InProcessDataPlane, type DataPlane } from '../control/data-plane.ts'
import { WorkerDataPlane, resolveWorkers } from '../control/worker-data-plane.ts'
import { ActiveHealthChecker } from '../health/active.ts'
import { createLogger } from '../log.ts'
import { FileStateStore } from '../state/file-store.ts'
import { ControlMetrics } from '../observe/control-metrics.ts'
import { promHistogramSource, setSeriesSource } from '../admin/dashboard/index.ts'
import type { PromJson } from '../admin/dashboard/prom-source.ts'
import type { ObserveOptions } from '../observe/data-plane-observer.ts'

function dataPlaneFor(config: Config, log: Logger, observe: ObserveOptions): DataPlane {
  const workers = resolveWorkers(config.workers)
  return workers === 1 ? new InProcessDataPlane(log, observe) : new WorkerDataPlane({ workers, log, observe })
}

function refuse(message: string): never {
  console.error(`fulcrum: not started: ${message}`)
  process.exit(1)
}

export async function runStart(file: string, level: LevelWithSilent): Promise<void> {
  const log = createLogger(level)
  const loaded = await loadConfig(file)
  if (!loaded.ok) {
    for (const p of loaded.problems) console.error(formatProblem(p))
    refuse(`${file} has ${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'}`)
  }
  for (const w of loaded.warnings) log.warn(w)
  const config = loaded.config

  // Last line of defence: one request's failure must never take the process down.
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception (the balancer keeps running)'))
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (the balancer keeps running)'))

  // Metrics are counted only when GET /metrics can serve them (the admin API is on); access logs always.
  const metrics = config.admin.enabled
  const cp = new ControlPlane({
    configFile: file,
    config,
    log,
    dataPlane: dataPlaneFor(config, log, { metrics, configDir: dirname(resolve(file)) }),
    observer: metrics ? new ControlMetrics() : undefined,
    store: new FileStateStore(config.dataDir),
    checker: (onResult) => new ActiveHealthChecker(onResult),
  })
  // The dashboard's req/s and p99 charts read the workers' upstream-time histograms, once per second while a tab is open.
  if (metrics) setSeriesSource(cp, promHistogramSource(() => cp.dataPlane.metrics() as Promise<readonly PromJson[]>))
  // logrotate's postrotate: `kill -USR1 <pid>`; new lines then go to a new file at each configured path.
  process.on('SIGUSR1', () => {
    log.info('SIGUSR1: reopening access logs')
    cp.dataPlane.reopenLogs()
  })

  let admin: AdminServer
  try {
    await cp.start()
  } catch (err) {
    await cp.stop(0).catch(() => {})
    refuse((err as Error).message)
  }
  try {
    admin = await startAdminServer(cp, config.admin, log)
  } catch (err) {
    await cp.stop(0).catch(() => {})
    refuse((err as Error).message)
  }
  log.info({ config: file, workers: resolveWorkers(config.workers), admin: admin.port || 'disabled' }, 'fulcrum started')

  let reloading: Promise<void> = Promise.resolve()
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      const result = await cp.reload()
      if (result.ok) log.info({ config: file, ...result.summary }, 'configuration reloaded')
      else log.error({ config: file, problems: result.problems }, 'reload rejected: the old configuration keeps serving')
    })
  })

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second stop signal: exiting now')
      process.exit(1)
    }
    stopping = true
    log.info({ signal, drainTimeout: cp.config.drainTimeout }, 'stopping: draining requests in flight')
    void reloading
      .then(() => admin.close())
      .then(() => cp.stop())
      .then(() => {
        log.info('stopped')
        log.flush()
        process.exit(0)
      })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}
