/**
 * Live numbers about one target address, kept apart from configuration so that they outlive reloads
 * (Caddy keeps `Host` apart from `Upstream` the same way). A target listed in two groups shares one state:
 * it is one process with one set of connections.
 */
export class TargetState {
  readonly address: string
  /** Requests (and upgraded tunnels) currently in flight to this target, across all groups. */
  inFlight = 0
  /** Passive health: failures counted in the current window (nginx `fails`). */
  fails = 0
  /** When the current failure window started (ms, from the injected clock). */
  failWindowStart = 0
  /** Passive health: the target takes no requests before this time (ms); 0 when it is up. */
  downUntil = 0
  /** After `downUntil` passed, one trial request decides; true while that trial is in flight. */
  trialInFlight = false
  /** Set when the target was marked down and has not yet passed a trial. */
  needsTrial = false
  /** Peak-EWMA of time to response headers, in ms; 0 before the first response. */
  latencyEwma = 0
  /** When `latencyEwma` was last updated (ms). */
  latencyAt = 0
  /** Completed attempts, for status views. */
  requests = 0

  constructor(address: string) {
    this.address = address
  }
}

/** Every `TargetState` by address. Created by `main.ts` and passed in, so each test gets a fresh one. */
export class TargetStateStore {
  readonly #states = new Map<string, TargetState>()

  get(address: string): TargetState {
    let state = this.#states.get(address)
    if (state === undefined) {
      state = new TargetState(address)
      this.#states.set(address, state)
    }
    return state
  }

  /** Forget addresses no group uses any more (their numbers would be stale if they came back). */
  retain(addresses: ReadonlySet<string>): void {
    for (const address of this.#states.keys()) {
      if (!addresses.has(address) && this.#states.get(address)!.inFlight === 0) this.#states.delete(address)
    }
  }

  get size(): number {
    return this.#states.size
  }
}
