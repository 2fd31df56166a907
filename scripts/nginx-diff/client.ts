/**
 * Sends one scripted request on a fresh connection and returns what came back: status, raw headers and
 * body, or the error when no response arrived (a response that arrived before the connection broke, as
 * nginx's 413 may, counts).
 */
import { request } from 'node:http'
import type { RequestSpec } from './case.ts'

export interface Response {
  status?: number
  /** name, value, name, value, … as received. */
  rawHeaders: string[]
  body: string
  error?: string
}

/** Long enough for a retry after a failed backend; a hung response is reported, not waited for. */
const REQUEST_MS = 10_000

export function send(spec: RequestSpec, address: { host: string; port: number }): Promise<Response> {
  const headers: string[] = ['Host', spec.host ?? `localhost:${address.port}`]
  const extra = Array.isArray(spec.headers) ? spec.headers : Object.entries(spec.headers ?? {})
  for (const [name, value] of extra) headers.push(name, value)
  const body = spec.bodyBytes !== undefined ? Buffer.alloc(spec.bodyBytes, 'x') : spec.body !== undefined ? Buffer.from(spec.body) : undefined
  const framed = extra.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n))
  if (body !== undefined && !framed) headers.push(...(spec.chunked ? ['Transfer-Encoding', 'chunked'] : ['Content-Length', String(body.length)]))
  return new Promise((resolve) => {
    let response: Response | undefined
    let settled = false
    const finish = (r: Response) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(r)
    }
    const req = request({
      host: address.host,
      port: address.port,
      localAddress: spec.client,
      method: spec.method ?? 'GET',
      path: spec.path ?? '/',
      headers,
      agent: false,
      setHost: false,
    }, (res) => {
      const chunks: Buffer[] = []
      response = { status: res.statusCode, rawHeaders: res.rawHeaders, body: '' }
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => finish({ ...(response as Response), body: Buffer.concat(chunks).toString('latin1') }))
      // A body cut short still tells what came back.
      res.on('close', () => finish({ ...(response as Response), body: Buffer.concat(chunks).toString('latin1') }))
      res.on('error', () => {})
    })
    const timer = setTimeout(() => {
      req.destroy()
      finish(response ?? { rawHeaders: [], body: '', error: `no response within ${REQUEST_MS} ms` })
    }, REQUEST_MS)
    req.on('error', (err: NodeJS.ErrnoException) => finish(response ?? { rawHeaders: [], body: '', error: err.code ?? err.message }))
    if (spec.chunked && body !== undefined && body.length > 1) {
      req.write(body.subarray(0, body.length >> 1))
      req.end(body.subarray(body.length >> 1))
    } else req.end(body)
  })
}
