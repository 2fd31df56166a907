/**
 * A raw HTTP/1.1 client for the client-side fault suite: writes exactly the bytes a test gives (in pieces,
 * with pauses, or half a body and then a hang-up), reads whatever comes back, and says whether the
 * balancer closed the connection and when. Every exchange is bounded by `ms`. Also: splitting pipelined
 * answers, and one well-behaved GET to check that the balancer still serves.
 */
import { connect, type Socket } from 'node:net'

export interface RawReply {
  /** Everything the balancer sent, as latin1 text. */
  readonly text: string
  /** The balancer ended or reset the connection; false when the client gave up after `ms`. */
  readonly closed: boolean
  /** From connecting until the connection closed (or the client gave up). */
  readonly ms: number
}

export interface RawOptions {
  /** Pause between the pieces of `data`. Default 0. */
  readonly gapMs?: number
  /** Give up (destroy the socket) after this long. Default 2 s. */
  readonly ms?: number
  /** Called once connected, with the socket (to destroy it mid-way, say). */
  readonly onSocket?: (socket: Socket) => void
}

/** Writes `data` (pieces `gapMs` apart), reads until the balancer closes or `ms` passes. */
export function rawExchange(port: number, data: string | Buffer | ReadonlyArray<string | Buffer>, options: RawOptions = {}): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const started = Date.now()
    let text = ''
    let closed = false
    let gaveUp = false
    let pause: NodeJS.Timeout | undefined
    const timer = setTimeout(() => { gaveUp = true; socket.destroy() }, options.ms ?? 2_000)
    socket.on('data', (d: Buffer) => { text += d.toString('latin1') })
    socket.on('end', () => { closed = true; socket.end() })
    socket.on('error', () => { if (!gaveUp) closed = true })
    socket.on('close', () => { clearTimeout(timer); clearTimeout(pause); resolve({ text, closed, ms: Date.now() - started }) })
    const pieces = typeof data === 'string' || Buffer.isBuffer(data) ? [data] : data
    let i = 0
    const next = (): void => {
      if (i >= pieces.length || socket.destroyed) return
      socket.write(pieces[i++])
      if (i < pieces.length) pause = setTimeout(next, options.gapMs ?? 0)
    }
    socket.on('connect', () => {
      options.onSocket?.(socket)
      next()
    })
  })
}

export interface ParsedResponse {
  readonly status: number
  /** Lower-case names; a repeated header keeps its last value. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** The complete Content-Length-framed answers at the start of `text`, in order (a cut one is left out). */
export function parseResponses(text: string): ParsedResponse[] {
  const out: ParsedResponse[] = []
  let rest = text
  for (let n = 0; n < 100; n++) {
    const end = rest.indexOf('\r\n\r\n')
    if (end === -1) break
    const lines = rest.slice(0, end).split('\r\n')
    const status = Number(lines[0].split(' ')[1])
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const length = Number(headers['content-length'] ?? 0)
    if (rest.length < end + 4 + length) break
    out.push({ status, headers, body: rest.slice(end + 4, end + 4 + length) })
    rest = rest.slice(end + 4 + length)
  }
  return out
}

/** The first line of an answer ('' when nothing came). */
export const statusLine = (text: string): string => text.split('\r\n')[0]

/** One well-behaved GET on its own connection (Connection: close): the answer, or status 0 when none came. */
export async function plainGet(port: number, path: string, ms = 2_000): Promise<{ status: number; body: string; ms: number }> {
  const reply = await rawExchange(port, `GET ${path} HTTP/1.1\r\nhost: fulcrum.test\r\nconnection: close\r\n\r\n`, { ms })
  const [first] = parseResponses(reply.text)
  return { status: first?.status ?? 0, body: first?.body ?? '', ms: reply.ms }
}
