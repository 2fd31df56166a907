/**
 * Peak-EWMA latency, as Finagle's and linkerd's load balancers keep it: a slow response counts in full at
 * once (the average jumps to it), while improvement is believed gradually, with a time-based decay. So a
 * target that starts to struggle loses traffic immediately and wins it back only as it proves fast again.
 * Pure functions over `TargetState`; `proxy.ts` calls `observeLatency`, `least-time` reads `decayedLatency`.
 * Both must be given times from the same clock (the algorithm's `now`, performance.now by default).
 */
import type { TargetState } from './target-state.ts'

/** How fast old samples fade: after this long, an old average keeps 1/e (~37%) of its weight. Default 10s. */
export const LATENCY_DECAY_MS = 10_000

/** Records one response time `ms`, measured at `now` (ms). */
export function observeLatency(state: TargetState, ms: number, now: number, decayMs = LATENCY_DECAY_MS): void {
  // A NaN or negative sample (a clock mix-up) would poison the average for good: drop it.
  if (!(ms >= 0)) return
  if (ms > state.latencyEwma) {
    state.latencyEwma = ms
  } else {
    // Math.max: a sample stamped before the last one (out-of-order completion) decays nothing.
    const w = Math.exp(-Math.max(0, now - state.latencyAt) / decayMs)
    state.latencyEwma = state.latencyEwma * w + ms * (1 - w)
  }
  state.latencyAt = now
}

/**
 * The average as of `now`, decayed toward 0 since the last sample without writing it (Finagle decays at
 * read time too). Without this, a target that was slow once and then got no traffic would never be measured
 * again: it would keep its bad score forever.
 */
export function decayedLatency(state: TargetState, now: number, decayMs = LATENCY_DECAY_MS): number {
  const ewma = state.latencyEwma
  if (ewma === 0 || now <= state.latencyAt) return ewma
  return ewma * Math.exp(-(now - state.latencyAt) / decayMs)
}
