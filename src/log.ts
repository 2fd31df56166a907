/**
 * Application logs (start, reload with what changed, health transitions, worker restarts, errors) through
 * pino. On a terminal, one readable line each (src/log-pretty.ts); otherwise JSON lines, for journald,
 * Docker, Loki and jq, written without blocking the data path. Nothing is logged per request here; access
 * logs are their own writer.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino'
import { colourEnabled } from './colour.ts'
import { prettyStream, type LineOutput } from './log-pretty.ts'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Where logs go: stdout by default; a terminal (isTTY) gets readable lines, anything else JSON. */
export type LogOutput = LineOutput & { readonly isTTY?: boolean }

export function createLogger(level: LevelWithSilent = 'info', out: LogOutput = process.stdout): Logger {
  const options = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }
  if (out.isTTY === true) return pino(options, prettyStream(out, colourEnabled(out)))
  // stdout through pino's own destination (sonic-boom on fd 1), the fastest way to write JSON lines.
  return out === process.stdout ? pino(options) : pino(options, out)
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
