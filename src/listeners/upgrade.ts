/**
 * WebSocket and other Upgrade requests: pick a target as for any request, open a plain TCP connection to
 * it, send the request head, then relay bytes both ways until either side closes. A target that refuses
 * the connection is skipped for the next one (nothing has reached the client yet); after that, the
 * target's own answer (101 or an error) goes to the client as it is.
 */
import { connect, type Socket } from 'node:net'
import type { IncomingMessage } from 'node:http'
import { beginAttempt, recordFailure, recordSuccess, abandonAttempt } from '../health/passive.ts'
import { TriedSet, type TargetGroup } from '../targets/target-group.ts'
import type { ProxyContext } from '../upstream/proxy.ts'
import { buildUpstreamHeaders, type ForwardingOptions } from '../upstream/request-headers.ts'
import { clientAddress } from './client-address.ts'

function rawResponse(status: number, text: string): string {
  return `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\ncontent-length: ${text.length + 5}\r\nconnection: close\r\n\r\n${status} ${text}\n`
}

export function tunnelUpgrade(req: IncomingMessage, client: Socket, head: Buffer, group: TargetGroup,
  ctx: ProxyContext, forwarding: ForwardingOptions, track: (s: Socket) => void): void {
  const clientIp = clientAddress(req.socket.remoteAddress)
  const facts = { requestId: '', method: req.method ?? 'GET', url: req.url ?? '/', clientIp, headers: req.headers }
  const headers = buildUpstreamHeaders(req.rawHeaders, clientIp, { ...forwarding, keepUpgrade: true }, facts)
  let requestHead = `${req.method} ${req.url} HTTP/1.1\r\n`
  for (let i = 0; i < headers.length; i += 2) requestHead += `${headers[i]}: ${headers[i + 1]}\r\n`
  requestHead += '\r\n'

  const tried = new TriedSet()
  let attempts = 0
  let clientGone = false
  client.on('error', () => client.destroy())
  client.once('close', () => { clientGone = true })
  track(client)

  const attempt = (): void => {
    if (clientGone) return
    const now = ctx.now()
    const target = group.pick(facts, tried, now, attempts === 0 ? group.stickiness?.requested(req.headers) ?? undefined : undefined)
    if (target === undefined) {
      client.end(attempts === 0 ? rawResponse(503, 'Service Unavailable') : rawResponse(502, 'Bad Gateway'))
      return
    }
    attempts++
    tried.add(target)
    target.state.inFlight++
    beginAttempt(target.state, now)
    let open = true
    let connected = false
    const release = (): void => {
      if (!open) return
      open = false
      target.state.inFlight--
    }
    const upstream = connect({ host: target.host, port: target.port })
    const connectTimeout = group.config.timeouts.connect
    if (connectTimeout > 0) upstream.setTimeout(connectTimeout, () => upstream.destroy(new Error('connect timeout')))
    upstream.once('connect', () => {
      connected = true
      upstream.setTimeout(0)
      if (recordSuccess(target.state)) ctx.onTargetUp(group, target)
      if (clientGone) { upstream.destroy(); release(); abandonAttempt(target.state); return }
      track(upstream)
      upstream.write(requestHead)
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
      upstream.on('error', () => client.destroy())
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => { release(); client.destroy() })
    })
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (connected || !open) return
      release()
      if (group.passiveApplies && recordFailure(target.state, group.passive, ctx.now())) {
        ctx.onTargetDown(group, target, err.code ?? err.message)
      }
      if (attempts < group.config.retries.tries && group.retriesOn('error')) attempt()
      else client.end(rawResponse(502, 'Bad Gateway'))
    })
  }
  attempt()
}
