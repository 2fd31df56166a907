/**
 * Access log lines of the L4 listeners, one per session: nginx stream's variables ($remote_addr,
 * $protocol, $status, $bytes_sent, $bytes_received, $session_time, $upstream_addr, …), the `stream`
 * format (nginx's documented "basic" one, plus the target), or a JSON object per line.
 */
import { compileTemplateLine, escapeLog, timeIso8601, timeLocal, type VariableGetter } from './log-format.ts'
import type { SessionOutcome, SessionRecord } from './observer.ts'

export const STREAM = '$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time "$upstream_addr"'

/** nginx stream's $status: 200 done, 400 bad client data, 403 forbidden, 502 no upstream, 503 over a limit, 500 error. */
const STATUS: Readonly<Record<SessionOutcome, number>> = {
  closed: 200, 'idle-timeout': 200, evicted: 200, 'bad-preamble': 400, denied: 403,
  'no-target': 502, 'connect-failed': 502, 'no-route': 502, limited: 503, error: 500,
}

type Getter = VariableGetter<SessionRecord>

const seconds = (ms: number): string => (ms / 1000).toFixed(3)

const VARIABLES: Readonly<Record<string, Getter>> = {
  remote_addr: (r) => r.clientIp,
  remote_port: (r) => (r.clientPort === 0 ? '' : String(r.clientPort)),
  time_local: (_r, _e, wall) => timeLocal(wall),
  time_iso8601: (_r, _e, wall) => timeIso8601(wall),
  msec: (_r, _e, wall) => (wall / 1000).toFixed(3),
  protocol: (r) => r.protocol,
  status: (r) => String(STATUS[r.outcome]),
  bytes_sent: (r) => String(r.bytesToClient),
  bytes_received: (r) => String(r.bytesFromClient),
  session_time: (r) => seconds(r.endedAt - r.startedAt),
  upstream_addr: (r) => r.target,
  upstream_bytes_sent: (r) => String(r.bytesFromClient),
  upstream_bytes_received: (r) => String(r.bytesToClient),
  server_port: (r) => String(r.serverPort),
  ssl_preread_server_name: (r) => r.serverName,
  pid: () => String(process.pid),
  // Fulcrum's own: which listener and target group, and how the session ended.
  listener: (r) => r.listener,
  target_group: (r) => r.targetGroup,
  session_outcome: (r) => r.outcome,
}

/** Variables that can never hold a byte nginx escapes. */
const PLAIN = new Set(['remote_port', 'time_local', 'time_iso8601', 'msec', 'protocol', 'status', 'bytes_sent', 'bytes_received',
  'session_time', 'upstream_bytes_sent', 'upstream_bytes_received', 'server_port', 'pid', 'session_outcome'])

export const KNOWN_SESSION_VARIABLES: readonly string[] = Object.keys(VARIABLES)

/** Compiles `stream`, `json` or a template of stream variables. Unknown variables are problems and print as "-". */
export function compileSessionFormat(format: string): { format: (r: SessionRecord, endedAt: number, wall: number) => string; problems: string[] } {
  if (format === 'json') return { format: jsonLine, problems: [] }
  return compileTemplateLine(format === 'stream' ? STREAM : format, (name, problems): Getter => {
    const get = VARIABLES[name]
    if (get === undefined) {
      problems.push(`unknown variable $${name} (known in stream logs: ${KNOWN_SESSION_VARIABLES.map((v) => `$${v}`).join(', ')})`)
      return () => '-'
    }
    // As nginx: an empty value prints "-", and values that may hold any byte are escaped.
    return PLAIN.has(name) ? (r, e, w) => get(r, e, w) || '-' : (r, e, w) => escapeLog(get(r, e, w)) || '-'
  })
}

function jsonLine(r: SessionRecord, _endedAt: number, wall: number): string {
  return `${JSON.stringify({
    time: new Date(wall).toISOString(),
    client: r.clientIp,
    client_port: r.clientPort === 0 ? null : r.clientPort,
    protocol: r.protocol,
    status: STATUS[r.outcome],
    outcome: r.outcome,
    bytes_sent: r.bytesToClient,
    bytes_received: r.bytesFromClient,
    duration_ms: Math.round((r.endedAt - r.startedAt) * 1000) / 1000,
    upstream: r.target === '' ? null : r.target,
    target_group: r.targetGroup === '' ? null : r.targetGroup,
    server_name: r.serverName === '' ? null : r.serverName,
    listener: r.listener,
  })}\n`
}
