/**
 * The size check of a streamed request body (a chunked one: a Content-Length over the limit was refused
 * before any byte was read).
 */
import type { IncomingMessage } from 'node:http'
import { Transform, type TransformCallback } from 'node:stream'

/** What the body limit tells when the body grew past it. */
export interface BodyLimitOwner {
  bodyTooLarge(): void
}

/**
 * Counts a streamed request body and stops it past the route's maxBodyBytes. The client's body is piped
 * in only when the target connection asks for it, so until then the body counts as unread and a request
 * that never reached a target can still be retried.
 */
export class BodyLimit extends Transform {
  readonly #exchange: BodyLimitOwner
  readonly #source: IncomingMessage
  readonly #max: number
  #seen = 0
  #piped = false
  constructor(exchange: BodyLimitOwner, source: IncomingMessage, max: number) {
    super()
    this.#exchange = exchange
    this.#source = source
    this.#max = max
  }

  override _read(size: number): void {
    if (!this.#piped) {
      this.#piped = true
      this.#source.pipe(this)
    }
    super._read(size)
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length
    if (this.#seen <= this.#max) {
      callback(null, chunk)
      return
    }
    this.#exchange.bodyTooLarge()
    callback(new Error(`request body larger than maxBodyBytes (${this.#max})`))
  }
}

