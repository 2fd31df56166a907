/**
 * JSON in and out for the admin API: bounded request bodies, and every answer (errors too) as JSON, so a
 * script never has to parse HTML or guess from a status line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError } from '../control/api-error.ts'

/** Admin requests are a few hundred bytes; anything near this is a mistake or an attack. */
export const MAX_BODY_BYTES = 64 * 1024

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return }
  const text = `${JSON.stringify(body, null, 2)}\n`
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(text)
}

/** `{ "error": { "code", "message", ...extra } }`: the one error shape of the admin API. */
export function sendError(res: ServerResponse, err: ApiError, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): void {
  sendJson(res, err.status, { error: { code: err.code, message: err.message, ...extra } }, headers)
}

/** Reads the body as JSON. An empty body is `undefined`; too large → 413, not JSON → 400. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw tooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    // Stop reading at once: a client streaming megabytes must not make us buffer them.
    if (size > MAX_BODY_BYTES) throw tooLarge()
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new ApiError(400, 'invalid_json', `the request body is not JSON: ${(err as Error).message}`)
  }
}

function tooLarge(): ApiError {
  return new ApiError(413, 'body_too_large', `the request body is larger than ${MAX_BODY_BYTES / 1024} KiB`)
}
