/** A RequestRecord built from plain values, for the observer's unit tests. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RequestRecord } from './observer.ts'

export interface FakeRequest {
  listener?: string
  route?: number
  targetGroup?: string
  method?: string
  url?: string
  headers?: Record<string, string>
  status?: number
  clientIp?: string
  requestId?: string
  startedAt?: number
  upstream?: string
  upstreamHeaderMs?: number
  upstreamMs?: number
  retries?: number
  bytesSent?: number
  clientAborted?: boolean
  localPort?: number
}

export function fakeRecord(f: FakeRequest = {}): RequestRecord {
  const req = {
    method: f.method ?? 'GET', url: f.url ?? '/', httpVersion: '1.1', headers: f.headers ?? {},
    socket: { localPort: f.localPort ?? 8080 },
  } as unknown as IncomingMessage
  const res = { statusCode: f.status ?? 200 } as unknown as ServerResponse
  return {
    listener: f.listener ?? 'web', route: f.route ?? 0, targetGroup: f.targetGroup, req, res,
    clientIp: f.clientIp ?? '127.0.0.1', requestId: f.requestId ?? '', startedAt: f.startedAt ?? 0,
    upstream: f.upstream, upstreamHeaderMs: f.upstreamHeaderMs ?? -1, upstreamMs: f.upstreamMs ?? -1,
    retries: f.retries ?? 0, bytesSent: f.bytesSent ?? 0, clientAborted: f.clientAborted ?? false, logged: true,
  }
}
