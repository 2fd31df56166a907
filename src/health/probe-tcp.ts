/** The tcp health probe: a connection that opens within the timeout passes; nothing is sent. */
import { connect } from 'node:net'
import { formatDuration } from '../config/duration.ts'
import { describeProbeError, type ProbeTarget, type ProbeVerdict } from './probe-error.ts'

export function probeTcp(target: ProbeTarget, signal: AbortSignal): Promise<ProbeVerdict> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port })
    // A probe in flight must not keep the process alive, no more than the checker's timers do.
    socket.unref()
    let settled = false
    const finish = (verdict: ProbeVerdict): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      socket.destroy()
      resolve(verdict)
    }
    const onAbort = (): void => finish({ ok: false, detail: 'stopped' })
    const timer = setTimeout(() => finish({ ok: false, detail: `timeout after ${formatDuration(target.timeout)}` }), target.timeout)
    timer.unref()
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('connect', () => finish({ ok: true, detail: 'connected' }))
    socket.on('error', (err) => finish({ ok: false, detail: describeProbeError(err) }))
    if (signal.aborted) onAbort()
  })
}
