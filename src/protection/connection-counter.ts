/**
 * nginx limit_conn's bookkeeping: how many connections (streams) or requests being processed (HTTP) each
 * client address has, and how many there are in all, refusing one more past either limit.
 */
export class ConnectionCounter {
  readonly #perClient = new Map<string, number>()
  #total = 0

  /** Counts one in for `client`, or returns false past a limit. `release` counts it out (once). */
  enter(client: string, perClient: number | undefined, total: number | undefined): (() => void) | undefined {
    if (total !== undefined && this.#total >= total) return undefined
    const mine = this.#perClient.get(client) ?? 0
    if (perClient !== undefined && mine >= perClient) return undefined
    this.#total++
    this.#perClient.set(client, mine + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.#total--
      const left = (this.#perClient.get(client) ?? 1) - 1
      if (left <= 0) this.#perClient.delete(client)
      else this.#perClient.set(client, left)
    }
  }

  get total(): number {
    return this.#total
  }
}

/** `maxConnections`: open client connections over all listeners of this process. */
export class ConnectionCap {
  /** undefined = no cap; set from the configuration at start and on every reload. */
  max: number | undefined
  #open = 0

  /** Counts a new connection in (out when it closes), or returns false when the cap is reached. */
  admit(socket: { once(event: 'close', listener: () => void): unknown }): boolean {
    if (this.max !== undefined && this.#open >= this.max) return false
    this.#open++
    socket.once('close', () => { this.#open-- })
    return true
  }
}
