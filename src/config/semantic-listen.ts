/**
 * Listener checks: unique names, listen addresses that parse, and no two sockets wanting the same port.
 * The admin API listens too, so it takes part in the port check.
 */
import { formatAddress, isAllAddresses, parseListenAddress } from './address.ts'
import type { Finding, Path } from './problem.ts'
import type { Config } from './schema.ts'
import type { LineOf } from './semantic.ts'

type Socket = { label: string; path: Path; host: string | undefined; port: number; udp: boolean; line: number | undefined }

export function checkListeners(config: Config, lineOf: LineOf, problems: Finding[]): void {
  const names = new Map<string, number>()
  config.listeners.forEach((listener, i) => {
    const first = names.get(listener.name)
    if (first === undefined) names.set(listener.name, i)
    else {
      const where = `listeners[${first}]${onLine(lineOf(['listeners', first, 'name']))}`
      problems.push({ path: ['listeners', i, 'name'], message: `listener name "${listener.name}" is already used by ${where}; names must be unique` })
    }
  })

  const sockets: Socket[] = []
  const add = (label: string, path: Path, value: number | string, udp = false) => {
    const parsed = parseListenAddress(value)
    if ('error' in parsed) problems.push({ path, message: parsed.error })
    else sockets.push({ label, path, ...parsed, udp, line: lineOf(path) })
  }
  // The admin API comes first so that a listener on its port is the one reported, also when admin is defaulted.
  add('the admin API', ['admin', 'listen'], config.admin.listen)
  config.listeners.forEach((listener, i) => add(`listener ${listener.name}`, ['listeners', i, 'listen'], listener.listen, listener.protocol === 'udp'))

  for (let i = 1; i < sockets.length; i++) {
    const socket = sockets[i]
    const other = sockets.slice(0, i).find((s) => conflicts(s, socket))
    if (other === undefined) continue
    const defaulted = other.path[0] === 'admin' ? ` (admin.listen defaults to ${config.admin.listen})` : ''
    const where = other.line !== undefined ? onLine(other.line) : defaulted
    const wide = isAllAddresses(other.host) !== isAllAddresses(socket.host)
      ? `; ${formatAddress(isAllAddresses(other.host) ? other.host : socket.host, socket.port)} takes the port on every address`
      : ''
    problems.push({ path: socket.path, message: `port ${socket.port} is already used by ${other.label}${where}${wide}` })
  }
}

/** Same transport and port, and the same host or either side on all addresses: the second bind would fail. */
function conflicts(a: Socket, b: Socket): boolean {
  // Port 0 asks the system for a free port, so two of them never collide; UDP and TCP ports are separate.
  if (a.port !== b.port || a.port === 0 || a.udp !== b.udp) return false
  if (isAllAddresses(a.host) || isAllAddresses(b.host)) return true
  return a.host?.toLowerCase() === b.host?.toLowerCase()
}

function onLine(line: number | undefined): string {
  return line === undefined ? '' : ` (line ${line})`
}
