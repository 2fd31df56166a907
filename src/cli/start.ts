/**
 * `fulcrum start -c FILE`: validate, start, then serve in the foreground. SIGHUP re-reads the file (a bad
 * file is logged and the old configuration keeps serving); SIGTERM/SIGINT drain and exit 0; a second
 * stop signal exits at once.
 */
import type { LevelWithSilent } from 'pino'
import { Balancer } from '../balancer.ts'
import { formatProblem, loadConfig } from '../config/load.ts'
import { createLogger } from '../log.ts'

export async function runStart(file: string, level: LevelWithSilent): Promise<void> {
  const log = createLogger(level)
  const loaded = await loadConfig(file)
  if (!loaded.ok) {
    for (const p of loaded.problems) console.error(formatProblem(p))
    console.error(`fulcrum: not started: ${file} has ${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'}`)
    process.exit(1)
  }
  for (const w of loaded.warnings) log.warn(w)

  // Last line of defence: one request's failure must never take the process down.
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception (the balancer keeps running)'))
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (the balancer keeps running)'))

  const balancer = new Balancer({ log })
  try {
    await balancer.start(loaded.config)
  } catch (err) {
    console.error(`fulcrum: not started: ${(err as Error).message}`)
    process.exit(1)
  }
  log.info({ config: file, pid: process.pid }, 'fulcrum started')

  let reloading: Promise<void> = Promise.resolve()
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      const next = await loadConfig(file)
      if (!next.ok) {
        log.error({ config: file, problems: next.problems.map(formatProblem) }, 'reload rejected: the old configuration keeps serving')
        return
      }
      for (const w of next.warnings) log.warn(w)
      try {
        const summary = await balancer.reload(next.config)
        log.info({ config: file, ...summary }, 'configuration reloaded')
      } catch (err) {
        log.error({ err: (err as Error).message }, 'reload failed: the old configuration keeps serving')
      }
    })
  })

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second stop signal: exiting now')
      process.exit(1)
    }
    stopping = true
    log.info({ signal, drainTimeout: loaded.config.drainTimeout }, 'stopping: draining requests in flight')
    void reloading.then(() => balancer.stop()).then(() => {
      log.info('stopped')
      log.flush()
      process.exit(0)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}
