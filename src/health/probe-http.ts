/**
 * The http health probe, as an ALB does it: GET the path on a fresh connection (closed afterwards, never
 * pooled, so a stuck pool cannot hide a failure), and pass when the status matches.
 */
import { request } from 'node:http'
import { formatDuration } from '../config/duration.ts'
import { parseMatcher } from './thresholds.ts'
import { describeProbeError, type ProbeTarget, type ProbeVerdict } from './probe-error.ts'

export interface HttpProbeTarget extends ProbeTarget {
  readonly path: string
  /** The Host header: the check's `host`, else the target's address. */
  readonly hostHeader: string
  /** Statuses that pass, e.g. "200-299,302". */
  readonly matcher: string
}

export const USER_AGENT = 'Fulcrum-HealthChecker/1'

/** The body is read and thrown away; past this many bytes the connection is closed instead. */
const MAX_BODY_BYTES = 64 * 1024

/**
 * The verdict comes with the response headers; `timeout` covers connecting and waiting for them. The
 * body is then drained in the background, and the connection closed at the latest when `timeout` ends.
 */
export function probeHttp(target: HttpProbeTarget, signal: AbortSignal): Promise<ProbeVerdict> {
  return new Promise((resolve) => {
    let settled = false
    const settle = (verdict: ProbeVerdict): void => {
      if (settled) return
      settled = true
      resolve(verdict)
    }
    let req: ReturnType<typeof request>
    try {
      req = request({
        host: target.host,
        port: target.port,
        method: 'GET',
        path: target.path,
        agent: false,
        headers: { Host: target.hostHeader, 'User-Agent': USER_AGENT, Connection: 'close' },
      })
    } catch (err) {
      // A path or Host header node refuses to send (ERR_UNESCAPED_CHARACTERS, ERR_INVALID_CHAR).
      settle({ ok: false, detail: describeProbeError(err) })
      return
    }
    const onAbort = (): void => {
      settle({ ok: false, detail: 'stopped' })
      req.destroy()
    }
    const timer = setTimeout(() => {
      settle({ ok: false, detail: `timeout after ${formatDuration(target.timeout)}` })
      req.destroy()
    }, target.timeout)
    timer.unref()
    signal.addEventListener('abort', onAbort, { once: true })
    // A probe in flight must not keep the process alive, no more than the checker's timers do.
    req.on('socket', (socket) => socket.unref())
    req.on('response', (res) => {
      const status = res.statusCode ?? 0
      settle(parseMatcher(target.matcher)(status)
        ? { ok: true, detail: `status ${status}` }
        : { ok: false, detail: `status ${status} (expected ${target.matcher.replace(/\s+/g, '')})` })
      let read = 0
      res.on('data', (chunk: Buffer) => {
        read += chunk.length
        if (read >= MAX_BODY_BYTES) req.destroy()
      })
      res.on('end', () => req.destroy())
      res.on('error', () => {})
    })
    // Errors after the verdict (a reset while draining the body, our own destroy) change nothing.
    req.on('error', (err) => settle({ ok: false, detail: describeProbeError(err) }))
    req.on('close', () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    })
    if (signal.aborted) onAbort()
    else req.end()
  })
}
