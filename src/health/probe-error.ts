/** What the probes share: their verdict, and one wording for socket errors in logs and the status API. */

/** A probe's answer before the checker stamps it with latency and time. */
export interface ProbeVerdict {
  readonly ok: boolean
  readonly detail: string
}

/** Where and how to probe, already resolved from the check settings. */
export interface ProbeTarget {
  readonly host: string
  readonly port: number
  /** Milliseconds for the whole probe: connect, and for http also the response headers. */
  readonly timeout: number
}

/** "connection refused", "connection reset", "host unreachable", or "error: <code or message>". */
export function describeProbeError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ECONNRESET') return 'connection reset'
  if (code === 'EHOSTUNREACH') return 'host unreachable'
  // Certificate verification (ERR_TLS_CERT_ALTNAME_INVALID, UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, …): the message says what is wrong.
  if (typeof code === 'string' && (code.startsWith('ERR_TLS_') || /CERT|SIGNATURE|ISSUER/.test(code))) {
    return `TLS: ${err instanceof Error ? err.message : code}`
  }
  if (typeof code === 'string' && code !== '') return `error: ${code}`
  return `error: ${err instanceof Error ? err.message : String(err)}`
}
