/**
 * Opening a raw TCP connection to a target of a group, for what is relayed as bytes (TCP and TLS
 * passthrough listeners, WebSocket tunnels). A connect that is refused or times out falls through to the
 * next target, as nginx's proxy_next_upstream does for streams, since nothing has been relayed yet: up to
 * the group's `retries.tries` attempts, when `retries.on` lists error (refused, reset) or timeout. Passive
 * health counts each failure and each success, as for HTTP requests.
 */
import { connect, type Socket } from 'node:net'
import type { RequestFacts } from '../balancing/algorithm.ts'
import { abandonAttempt, beginAttempt, recordFailure, recordSuccess } from '../health/passive.ts'
import { TriedSet, type GroupTarget, type TargetGroup } from '../targets/target-group.ts'
import type { ProxyContext } from './proxy.ts'

export type ConnectResult =
  | {
    readonly kind: 'connected'; readonly socket: Socket; readonly target: GroupTarget; readonly attempts: number
    /** Gives back the target's in-flight slot; call once the relay is over (more calls do nothing). */
    readonly release: () => void
  }
  /** `attempts` 0: no target could take it (all down, draining or full); otherwise every attempt failed. */
  | { readonly kind: 'failed'; readonly attempts: number; readonly lastError: string }

export interface ConnectOptions {
  /** Stop trying (and close a connection that opens) once this says the client left. */
  readonly clientGone: () => boolean
  /** Tried first when eligible (a stickiness cookie's target). */
  readonly sticky?: GroupTarget
  /** Half-open connections stay open for relaying (the client may finish sending before the target answers). */
  readonly allowHalfOpen?: boolean
}

export function connectTarget(group: TargetGroup, facts: RequestFacts, ctx: ProxyContext, options: ConnectOptions,
  done: (result: ConnectResult) => void): void {
  const tried = new TriedSet()
  let attempts = 0
  let lastError = 'no target available'
  const attempt = (): void => {
    if (options.clientGone()) return
    const now = ctx.now()
    const target = group.pick(facts, tried, now, attempts === 0 ? options.sticky : undefined)
    if (target === undefined) {
      done({ kind: 'failed', attempts, lastError })
      return
    }
    attempts++
    tried.add(target)
    target.state.inFlight++
    beginAttempt(target.state, now)
    let held = true
    const release = (): void => {
      if (!held) return
      held = false
      target.state.inFlight--
    }
    let connected = false
    const socket = connect({ host: target.host, port: target.port, allowHalfOpen: options.allowHalfOpen === true, noDelay: true })
    const connectTimeout = group.config.timeouts.connect
    if (connectTimeout > 0) {
      socket.setTimeout(connectTimeout, () => {
        const err: NodeJS.ErrnoException = new Error(`connect timeout after ${connectTimeout}ms`)
        err.code = 'ETIMEDOUT'
        socket.destroy(err)
      })
    }
    socket.once('connect', () => {
      connected = true
      socket.setTimeout(0)
      if (recordSuccess(target.state)) ctx.onTargetUp(group, target)
      if (options.clientGone()) {
        socket.destroy()
        release()
        abandonAttempt(target.state)
        return
      }
      done({ kind: 'connected', socket, target, attempts, release })
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (connected) return
      release()
      lastError = err.code ?? err.message
      if (group.passiveApplies) {
        ctx.observer?.passiveFailure(group.name, target.address, lastError)
        if (recordFailure(target.state, group.passive, ctx.now())) ctx.onTargetDown(group, target, lastError)
      }
      const condition = err.code === 'ETIMEDOUT' ? 'timeout' : 'error'
      if (attempts < group.config.retries.tries && group.retriesOn(condition)) {
        ctx.observer?.retried(group.name, condition)
        attempt()
      } else done({ kind: 'failed', attempts, lastError })
    })
  }
  attempt()
}
