/**
 * Once a second: the balancer's process tree (the primary and its data-plane workers), its resident memory
 * (VmRSS from /proc/PID/status) and open file descriptors (entries of /proc/PID/fd), summed over the tree.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { snapshot } from '../../bench/system.ts'

export interface Sample {
  /** Seconds since the sampler started. */
  readonly t: number
  readonly rssKb: number
  readonly fds: number
  readonly procs: number
  /** The primary's own share of rssKb and fds; the rest is its workers'. */
  readonly primaryRssKb: number
  readonly primaryFds: number
}

function descendants(root: number): number[] {
  const { procs, children } = snapshot()
  const out: number[] = []
  const stack = [root]
  while (stack.length > 0) {
    const pid = stack.pop()!
    if (procs.has(pid)) out.push(pid)
    stack.push(...(children.get(pid) ?? []))
  }
  return out
}

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : 0
}

export class TreeSampler {
  readonly samples: Sample[] = []
  /** Every pid seen in the tree: more than 1 + workers means a worker was replaced. */
  readonly pidsSeen = new Set<number>()
  readonly #root: number
  readonly #startedAt = Date.now()
  #timer: NodeJS.Timeout | undefined

  constructor(root: number) {
    this.#root = root
  }

  start(intervalMs = 1000): void {
    this.sample()
    this.#timer = setInterval(() => this.sample(), intervalMs)
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  sample(): Sample | undefined {
    let rss = 0
    let fds = 0
    let procs = 0
    let primaryRssKb = 0
    let primaryFds = 0
    for (const pid of descendants(this.#root)) {
      try {
        const r = rssKb(pid)
        const f = readdirSync(`/proc/${pid}/fd`).length
        rss += r
        fds += f
        procs++
        if (pid === this.#root) {
          primaryRssKb = r
          primaryFds = f
        }
        this.pidsSeen.add(pid)
      } catch {
        // It exited between the listing and the read.
      }
    }
    if (procs === 0) return undefined
    const s = { t: (Date.now() - this.#startedAt) / 1000, rssKb: rss, fds, procs, primaryRssKb, primaryFds }
    this.samples.push(s)
    return s
  }

  /** The whole curve, one line a second, for a closer look than the report's table. */
  csv(): string {
    const rows = this.samples.map((s) => [s.t.toFixed(1), s.rssKb, s.fds, s.procs, s.primaryRssKb, s.primaryFds].join(','))
    return ['t_s,rss_kb,fds,processes,primary_rss_kb,primary_fds', ...rows, ''].join('\n')
  }

  last(): Sample | undefined {
    return this.samples.at(-1)
  }
}
