/**
 * WebSocket and other Upgrade requests: pick a target as for any request, open a plain TCP connection to
 * it, send the request head, then relay bytes both ways until either side closes. A target that refuses
 * the connection is skipped for the next one (nothing has reached the client yet); after that, the
 * target's own answer (101 or an error) goes to the client as it is.
 */
import type { Socket } from 'node:net'
import type { IncomingMessage } from 'node:http'
import type { TargetGroup } from '../targets/target-group.ts'
import { connectTarget } from '../upstream/connect-target.ts'
import type { ProxyContext } from '../upstream/proxy.ts'
import { buildUpstreamHeaders, type ForwardingOptions } from '../upstream/request-headers.ts'

function rawResponse(status: number, text: string): string {
  return `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\ncontent-length: ${text.length + 5}\r\nconnection: close\r\n\r\n${status} ${text}\n`
}

export function tunnelUpgrade(req: IncomingMessage, client: Socket, head: Buffer, group: TargetGroup,
  ctx: ProxyContext, forwarding: ForwardingOptions, clientIp: string, track: (s: Socket) => void): void {
  const facts = { requestId: '', method: req.method ?? 'GET', url: req.url ?? '/', clientIp, headers: req.headers }
  const headers = buildUpstreamHeaders(req.rawHeaders, clientIp, { ...forwarding, keepUpgrade: true }, facts)
  let requestHead = `${req.method} ${req.url} HTTP/1.1\r\n`
  for (let i = 0; i < headers.length; i += 2) requestHead += `${headers[i]}: ${headers[i + 1]}\r\n`
  requestHead += '\r\n'

  let clientGone = false
  client.on('error', () => client.destroy())
  client.once('close', () => { clientGone = true })
  track(client)

  const sticky = group.stickiness?.requested(req.headers) ?? undefined
  connectTarget(group, facts, ctx, { clientGone: () => clientGone, sticky }, (result) => {
    if (result.kind === 'failed') {
      client.end(result.attempts === 0 ? rawResponse(503, 'Service Unavailable') : rawResponse(502, 'Bad Gateway'))
      return
    }
    const upstream = result.socket
    track(upstream)
    upstream.write(requestHead)
    if (head.length > 0) upstream.write(head)
    upstream.pipe(client)
    client.pipe(upstream)
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => { result.release(); client.destroy() })
  })
}
