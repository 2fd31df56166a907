/**
 * The http and https health probe, as an ALB does it: GET the path on a fresh connection (closed
 * afterwards, never pooled, so a stuck pool cannot hide a failure), and pass when the status matches.
 * https verifies the target's certificate as the group's traffic does (an ALB does not verify it for
 * checks; here a certificate the traffic would refuse makes the target unhealthy, which says more).
 */
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { TargetGroupConfig } from '../config/schema.ts'
import { isIP } from 'node:net'
import { checkServerIdentity } from 'node:tls'
import { formatDuration } from '../config/duration.ts'
import { parseMatcher } from './thresholds.ts'
import { describeProbeError, type ProbeTarget, type ProbeVerdict } from './probe-error.ts'

export interface HttpProbeTarget extends ProbeTarget {
  readonly path: string
  /** The Host header: the check's `host`, else the target's address. */
  readonly hostHeader: string
  /** Statuses that pass, e.g. "200-299,302". */
  readonly matcher: string
  /** Set for https checks: the group's TLS settings ({} = system CAs, the target's host as the name). */
  readonly tls?: NonNullable<TargetGroupConfig['tls']> | Record<string, never>
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
      const options = {
        host: target.host,
        port: target.port,
        method: 'GET',
        path: target.path,
        agent: false as const,
        headers: { Host: target.hostHeader, 'User-Agent': USER_AGENT, Connection: 'close' },
      }
      const tls = target.tls as Partial<NonNullable<TargetGroupConfig['tls']>> | undefined
      req = tls === undefined ? request(options) : httpsRequest({
        ...options,
        ca: tls.ca === undefined ? undefined : readFileSync(tls.ca),
        servername: tls.serverName ?? (isIP(target.host) === 0 ? target.host : undefined),
        rejectUnauthorized: tls.insecureSkipVerify !== true,
        // The name the certificate must carry, as the traffic checks it.
        checkServerIdentity: (host, cert) => checkServerIdentity(tls.serverName ?? host, cert),
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
