/**
 * Precise response timeouts for one attempt. undici runs headersTimeout and bodyTimeout on a timer wheel
 * that ticks every 500 ms (lib/util/timers.js), which is fine for a 60 s timeout but lets a 200 ms one
 * fire after a second. Timeouts shorter than PRECISE_BELOW_MS get a timer of their own here instead (one
 * per attempt, re-armed on each body chunk); longer ones stay with undici, which is cheaper per request.
 */
export const PRECISE_BELOW_MS = 10_000

export type TimeoutCode = 'UND_ERR_HEADERS_TIMEOUT' | 'UND_ERR_BODY_TIMEOUT'

export function isPrecise(ms: number): boolean {
  return ms > 0 && ms < PRECISE_BELOW_MS
}

export class AttemptTimers {
  readonly #fire: (err: Error) => void
  #header: NodeJS.Timeout | undefined
  #body: NodeJS.Timeout | undefined

  /** `fire` gets an error with the code undici would have given, so failures are classified alike. */
  constructor(fire: (err: Error) => void) {
    this.#fire = fire
  }

  #timer(ms: number, code: TimeoutCode, what: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const err: NodeJS.ErrnoException = new Error(`${what} timeout after ${ms}ms`)
      err.code = code
      this.#fire(err)
    }, ms)
    timer.unref()
    return timer
  }

  /**
   * Starts the wait for the response headers once the request is sent: now for a body held whole or none,
   * at the end of a streamed `body` (if it is still coming). `ms` 0 clears the timers instead.
   */
  armHeader(ms: number, body: { readonly complete: boolean; once(event: 'end', f: () => void): unknown } | undefined, stillOpen: () => boolean): void {
    this.clear()
    if (ms === 0) return
    if (body !== undefined && !body.complete) body.once('end', () => { if (stillOpen()) this.startHeader(ms) })
    else this.startHeader(ms)
  }

  /** From the request being sent to the response headers. */
  startHeader(ms: number): void {
    clearTimeout(this.#header)
    this.#header = this.#timer(ms, 'UND_ERR_HEADERS_TIMEOUT', 'response header')
  }

  /** The longest pause between two chunks of the response body; call `touchBody` on each chunk. */
  startBody(ms: number): void {
    clearTimeout(this.#header)
    this.#header = undefined
    clearTimeout(this.#body)
    this.#body = this.#timer(ms, 'UND_ERR_BODY_TIMEOUT', 'response body idle')
  }

  touchBody(): void {
    this.#body?.refresh()
  }

  clear(): void {
    clearTimeout(this.#header)
    clearTimeout(this.#body)
    this.#header = undefined
    this.#body = undefined
  }
}
