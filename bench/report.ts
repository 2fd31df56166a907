/**
 * Tables from the runs: one per repeat and a summary of medians. Ratios are taken within a repeat
 * first and then the median of those, because this shared VM drifts by tens of percent between
 * repeats but much less between neighbouring runs (see the anchor's caveats).
 */
import type { Machine } from './system.ts'

export interface Run {
  repeat: number
  target: string
  rps: number
  p50Ms: number
  p99Ms: number
  requests: number
  seconds: number
  /** Target process tree CPU time over the measured run divided by completed requests. */
  cpuUsPerReq: number
  badStatus: number
  errors: number
  /** Percent of requests each backend received; undefined when it could not be read. */
  split: [number, number] | undefined
  /** Other processes' CPU during the run, percent of one core. */
  othersPct: number
  stealPct: number
  waitedQuietS: number
}

/** Ratios in the tables are against these, when they ran. */
const BASES = ['nginx-1w', 'nginx-2w', 'node-undici'] as const

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

const fmt = {
  int: (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  fix: (n: number, d: number) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a'),
}

function table(head: string[], rows: string[][]): string {
  const align = head.map((_, i) => (i === 0 ? '---' : '---:'))
  return [head, align, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n')
}

/** CPU ÷ base for one target, one value per repeat in which both ran. */
function ratios(runs: readonly Run[], target: string, base: string): number[] {
  const out: number[] = []
  for (const r of runs) {
    if (r.target !== target) continue
    const b = runs.find((x) => x.repeat === r.repeat && x.target === base)
    if (b) out.push(r.cpuUsPerReq / b.cpuUsPerReq)
  }
  return out
}

function splitText(s: Run['split']): string {
  return s ? `${s[0].toFixed(0)}/${s[1].toFixed(0)}` : 'n/a'
}

export function repeatTable(runs: readonly Run[]): string {
  const rows = runs.map((r) => [
    r.target, fmt.int(r.rps), fmt.fix(r.p50Ms, 2), fmt.fix(r.p99Ms, 2), fmt.fix(r.cpuUsPerReq, 1),
    fmt.fix(ratios(runs, r.target, 'nginx-1w')[0], 2), `${r.badStatus} / ${r.errors}`, splitText(r.split),
    fmt.fix(r.othersPct, 0), fmt.fix(r.stealPct, 1), fmt.fix(r.waitedQuietS, 0),
  ])
  const head = ['target', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'CPU ÷ nginx-1w', 'bad status / errors',
    'backend split %', "others' CPU % core", 'steal %', 'waited for quiet s']
  return table(head, rows)
}

export function summaryTable(runs: readonly Run[], targets: readonly string[]): string {
  const bases = BASES.filter((b) => runs.some((r) => r.target === b))
  const rows = targets.filter((t) => runs.some((r) => r.target === t)).map((t) => {
    const mine = runs.filter((r) => r.target === t)
    const m = (f: (r: Run) => number) => median(mine.map(f))
    const lastSplit = mine.at(-1)?.split
    return [
      t, fmt.int(m((r) => r.rps)), fmt.fix(m((r) => r.p50Ms), 2), fmt.fix(m((r) => r.p99Ms), 2),
      fmt.fix(m((r) => r.cpuUsPerReq), 1), ...bases.map((b) => fmt.fix(median(ratios(runs, t, b)), 2)),
      `${mine.reduce((s, r) => s + r.badStatus, 0)} / ${mine.reduce((s, r) => s + r.errors, 0)}`, splitText(lastSplit),
    ]
  })
  const head = ['target', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', ...bases.map((b) => `CPU ÷ ${b}`),
    'bad status / errors', 'backend split % (last)']
  return table(head, rows)
}

/** The target: with one worker, Fulcrum's CPU per request at most 2.5x nginx-1w's. */
export const CPU_RATIO_GOAL = 2.5

export function verdict(runs: readonly Run[]): string | undefined {
  const r = median(ratios(runs, 'fulcrum', 'nginx-1w'))
  if (!Number.isFinite(r)) return undefined
  const ok = r <= CPU_RATIO_GOAL
  return `fulcrum CPU ÷ nginx-1w = ${r.toFixed(2)} (goal ≤ ${CPU_RATIO_GOAL}): ${ok ? 'met' : 'NOT met'}`
}

export function machineTable(m: Machine, loadgen: string, backends: string): string {
  return table(['', ''], [
    ['nproc', String(m.nproc)], ['CPU', m.cpuModel], ['kernel', m.kernel], ['OS', m.os], ['node', m.node],
    ['nginx', m.nginx], ['wrk', m.wrk], ['autocannon', m.autocannon], ['undici', m.undici],
    ['CLK_TCK', `${m.clkTck} (CPU time resolution ${1000 / m.clkTck} ms)`], ['load generator', loadgen],
    ['backends', backends],
  ])
}
