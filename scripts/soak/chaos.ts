/**
 * Target chaos for the soak, from a seeded PRNG so a run can be told apart and repeated in its choices
 * (timing still depends on the machine): every 2-5 s one healthy target is disturbed, never more than
 * `maxDisturbed` at once:
 *   kill        close it and reset its connections (a crash), restart on the same port after 1-3 s
 *   unavailable answer 503 to everything for 2-6 s
 *   slow        answer after 200-1500 ms for 2-6 s
 */
import type { TargetProcess } from './target-control.ts'

/** mulberry32 (src/balancing/testing.ts): the same seed gives the same chaos choices. */
export { mulberry32 as prng } from '../../src/balancing/testing.ts'

export type Event = 'kill' | 'restart' | 'unavailable' | 'slow' | 'recover'

/** Runs `fn` every `min`-`max` ms (drawn each time) until the signal aborts; errors go to `onError`. */
export async function every(random: () => number, minMs: number, maxMs: number, signal: AbortSignal, fn: () => Promise<void>, onError: (err: Error) => void): Promise<void> {
  while (!signal.aborted) {
    const wait = minMs + random() * (maxMs - minMs)
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, wait)
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
    })
    if (signal.aborted) return
    await fn().catch(onError)
  }
}

export class Chaos {
  readonly counts = new Map<Event, number>()
  readonly errors: string[] = []
  /** Targets disturbed now, with the function that puts each back. */
  readonly #disturbed = new Map<string, () => Promise<void>>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #targets: TargetProcess
  readonly #names: readonly string[]
  readonly #random: () => number
  readonly #maxDisturbed: number
  readonly #log: (line: string) => void
  readonly #abort = new AbortController()
  #running: Promise<void> = Promise.resolve()

  constructor(targets: TargetProcess, names: readonly string[], random: () => number, log: (line: string) => void, maxDisturbed = 2) {
    this.#targets = targets
    this.#names = names
    this.#random = random
    this.#log = log
    this.#maxDisturbed = maxDisturbed
  }

  start(): void {
    this.#running = every(this.#random, 2000, 5000, this.#abort.signal, () => this.#strike(), (err) => this.#error(err))
  }

  /** Stops striking and puts every disturbed target back at once. */
  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#running
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    await Promise.all([...this.#disturbed.values()].map((restore) => restore().catch((err: Error) => this.#error(err))))
  }

  #count(e: Event, name: string, detail = ''): void {
    this.counts.set(e, (this.counts.get(e) ?? 0) + 1)
    this.#log(`chaos: ${e} ${name}${detail}`)
  }

  #error(err: Error): void {
    this.errors.push(err.message)
    this.#log(`chaos: error: ${err.message}`)
  }

  async #strike(): Promise<void> {
    const calm = this.#names.filter((n) => !this.#disturbed.has(n))
    if (this.#disturbed.size >= this.#maxDisturbed || calm.length === 0) return
    const name = calm[Math.floor(this.#random() * calm.length)]
    const roll = this.#random()
    const ms = (lo: number, hi: number) => Math.round(lo + this.#random() * (hi - lo))
    let restore: () => Promise<void>
    let holdMs: number
    if (roll < 1 / 3) {
      await this.#targets.send({ op: 'kill', name })
      this.#count('kill', name)
      holdMs = ms(1000, 3000)
      restore = async () => {
        this.#disturbed.delete(name)
        await this.#targets.send({ op: 'restart', name })
        this.#count('restart', name)
      }
    } else {
      const slow = roll < 2 / 3
      const delayMs = ms(200, 1500)
      await this.#targets.send({ op: 'mode', name, mode: slow ? { kind: 'slow', delayMs } : { kind: 'unavailable' } })
      this.#count(slow ? 'slow' : 'unavailable', name, slow ? ` (${delayMs} ms)` : '')
      holdMs = ms(2000, 6000)
      restore = async () => {
        this.#disturbed.delete(name)
        await this.#targets.send({ op: 'mode', name, mode: { kind: 'normal' } })
        this.#count('recover', name)
      }
    }
    this.#disturbed.set(name, restore)
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      restore().catch((err: Error) => this.#error(err))
    }, holdMs)
    this.#timers.add(timer)
  }
}
