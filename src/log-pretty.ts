/**
 * Human-readable log lines for a terminal, from pino's JSON lines:
 *
 *   12:01:02 INFO  target state changed group=web target=127.0.0.1:8081 from=healthy to=unhealthy reason="2 checks failed in a row (status 500)"
 *
 * A plain synchronous stream given to pino, not a transport: no worker thread, and a line is on the screen
 * when the log call returns (a terminal write is synchronous in Node), so it never lags behind what the
 * operator just did. Only application logs come here, a few lines a minute; nothing per request.
 */
import { painter, type Paint, type Style } from './colour.ts'

const LEVELS: Record<number, [label: string, style: Style]> = {
  10: ['TRACE', 'grey'], 20: ['DEBUG', 'grey'], 30: ['INFO', 'green'], 40: ['WARN', 'yellow'], 50: ['ERROR', 'red'], 60: ['FATAL', 'red'],
}

/** Fields every line has and that the pretty line shows in its own way, or not at all (pid, hostname). */
const SHOWN_APART = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'err'])

export interface LineOutput {
  write(text: string): unknown
}

/** A pino destination that writes each JSON line to `out` as a readable line. */
export function prettyStream(out: LineOutput, colour: boolean): { write(line: string): void } {
  const paint = painter(colour)
  return { write: (line) => { out.write(`${formatLine(line, paint)}\n`) } }
}

/** One pino JSON line as text; a line that is not JSON passes through as it is. */
export function formatLine(line: string, paint: Paint = painter(false)): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line.trimEnd()
  }
  const [label, style] = LEVELS[entry.level as number] ?? [String(entry.level).toUpperCase(), 'bold']
  const parts = [paint('dim', clock(entry.time)), paint(style, label.padEnd(5))]
  const below: string[] = []
  if (typeof entry.msg === 'string' && entry.msg !== '') parts.push(entry.msg)
  for (const [key, value] of Object.entries(entry)) {
    if (SHOWN_APART.has(key) || value === undefined) continue
    // An empty list ("listenersRemoved: []") says nothing to a reader: the JSON keeps it for machines.
    if (Array.isArray(value) && value.length === 0) continue
    // Lists of sentences (a reload's changes, a rejected file's problems) read best one per line, under it.
    if (Array.isArray(value) && value.some((v) => typeof v === 'string' && /\s/.test(v))) {
      below.push(...value.map((v) => `    ${paint('cyan', key)}: ${typeof v === 'string' ? v : JSON.stringify(v)}`))
      continue
    }
    parts.push(`${paint('cyan', key)}=${formatValue(value)}`)
  }
  const err = entry.err as { message?: string; stack?: string } | undefined
  if (err !== undefined) {
    parts.push(`${paint('cyan', 'err')}=${formatValue(err.message ?? err)}`)
    // The stack under the line, indented; its first line repeats the message.
    const stack = typeof err.stack === 'string' ? err.stack.split('\n').slice(1) : []
    below.push(...stack.map((l) => paint('dim', `    ${l.trim()}`)))
  }
  return [parts.join(' '), ...below].join('\n')
}

/** Strings bare when they can be read back unambiguously, quoted otherwise; lists comma-separated. */
function formatValue(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? quote(v) : JSON.stringify(v))).join(',')
  if (typeof value === 'string') return quote(value)
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}

function quote(s: string): string {
  return s === '' || /[\s"=,\\]/.test(s) ? JSON.stringify(s) : s
}

/** HH:MM:SS local time from pino's ISO time (or epoch ms); a terminal session needs no date. */
function clock(time: unknown): string {
  const d = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now())
  if (Number.isNaN(d.getTime())) return String(time)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')
}
