/**
 * Application logs (start, reload, health transitions, errors) through pino: JSON lines, written without
 * blocking the data path. Nothing is logged per request here; access logs are their own writer.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime })
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
