/**
 * What went wrong with one attempt, in the balancer's words: which retry condition it is (nginx's
 * `proxy_next_upstream` names), the status the client gets if it is the last word, and whether the request
 * can have reached the target (if not, retrying is safe for any method).
 */
import type { RetryCondition } from '../config/schema.ts'

export interface AttemptFailure {
  readonly condition: RetryCondition
  /** 502 target failed, 504 timed out. */
  readonly status: 502 | 504
  /** False when the connection was never made: the target cannot have seen the request. */
  readonly reachedTarget: boolean
  readonly reason: string
}

const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL'])

export function classifyUpstreamError(err: unknown): AttemptFailure {
  const e = err as { code?: string; message?: string; name?: string }
  const code = e?.code ?? ''
  const reason = code === '' ? String(e?.message ?? err) : code
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { condition: 'timeout', status: 504, reachedTarget: false, reason }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return { condition: 'timeout', status: 504, reachedTarget: true, reason }
  }
  if (NOT_CONNECTED.has(code)) return { condition: 'error', status: 502, reachedTarget: false, reason }
  if (code.startsWith('HPE_') || e?.name === 'HTTPParserError' || code === 'UND_ERR_INFO') {
    return { condition: 'invalid_header', status: 502, reachedTarget: true, reason }
  }
  return { condition: 'error', status: 502, reachedTarget: true, reason }
}

/** A target's answer with a status the group retries on (`http_502` …), as a failure of that attempt. */
export function statusFailure(condition: RetryCondition, status: number): AttemptFailure {
  return { condition, status: 502, reachedTarget: true, reason: `status ${status}` }
}
