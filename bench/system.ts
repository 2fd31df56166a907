/**
 * What the kernel says about CPU time: per process tree (/proc/PID/stat) and machine-wide (/proc/stat),
 * plus the machine description printed with every result. Linux only, as the anchor runs are.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { cpus, release } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

/** stdout and stderr together: nginx -v and wrk -v print their version on stderr, and wrk exits 1. */
function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 })
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim()
}

/** Clock ticks per second for /proc times; 100 on this machine, so one tick is 10 ms of CPU. */
export const CLK_TCK = Number(sh('getconf', ['CLK_TCK'])) || 100

export function which(tool: string): string | undefined {
  return sh('sh', ['-c', `command -v ${tool} || true`]) || undefined
}

interface Stat {
  comm: string
  ppid: number
  /** utime+stime: this process and all its threads. */
  ticks: number
  /** cutime+cstime: children that exited and were waited for. */
  reaped: number
}

function readStat(pid: string): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm (field 2) may hold spaces and parentheses; everything after the last ')' is fixed fields.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
    return { comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) }
  } catch {
    return undefined // the process exited while we looked
  }
}

/** Every process's CPU times and the machine-wide counters, at one moment. */
export interface Snapshot {
  procs: Map<number, Stat>
  children: Map<number, number[]>
  /** Machine-wide ticks summed over all CPUs (/proc/stat). */
  sys: { steal: number; all: number }
}

export function snapshot(): Snapshot {
  const procs = new Map<number, Stat>()
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const s = readStat(name)
    if (!s) continue
    const pid = Number(name)
    procs.set(pid, s)
    const list = children.get(s.ppid)
    if (list) list.push(pid)
    else children.set(s.ppid, [pid])
  }
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  return { procs, children, sys: { steal, all: user + nice + system + idle + iowait + irq + softirq + steal } }
}

function tree(s: Snapshot, root: number): number[] {
  const out: number[] = []
  const stack = [root]
  while (stack.length > 0) {
    const pid = stack.pop()!
    if (s.procs.has(pid)) out.push(pid)
    stack.push(...(s.children.get(pid) ?? []))
  }
  return out
}

/**
 * utime+stime of `root` and all its descendants, in ticks. A process's own line already includes all its
 * threads (Node's libuv/V8 threads), and the walk adds children such as nginx workers.
 */
export function treeTicks(s: Snapshot, root: number): number {
  return tree(s, root).reduce((sum, pid) => sum + s.procs.get(pid)!.ticks, 0)
}

/** Other processes' CPU and the hypervisor's steal between two snapshots. */
export interface Noise {
  /** Percent of one core used by processes outside this bench's process tree. */
  othersPct: number
  /** Percent of all CPU time stolen by the hypervisor. */
  stealPct: number
  /** The busiest other processes, e.g. "1234 node 35%", to tell who kept the machine busy. */
  busiest: string[]
}

/**
 * Counted per process, not as /proc/stat busy minus ours: softirq work for loopback traffic that lands
 * on an idle CPU is charged to no process, and would read as tens of percent of "others" under load.
 * A process that exited in between moves its CPU to its parent's cutime, so its earlier total is taken off.
 */
export function noiseBetween(a: Snapshot, b: Snapshot): Noise {
  const oursA = new Set(tree(a, process.pid))
  const oursB = new Set(tree(b, process.pid))
  const total = (s: Stat) => s.ticks + s.reaped
  const all = Math.max(1, b.sys.all - a.sys.all)
  const pct = (ticks: number) => (ticks / all) * cpus().length * 100
  let others = 0
  const each: [string, number][] = []
  for (const [pid, sb] of b.procs) {
    if (oursB.has(pid)) continue
    const sa = a.procs.get(pid)
    others += total(sb) - (sa ? total(sa) : 0)
    // Listed by own CPU only: a shell's cutime jumps by a child's whole life when that child exits.
    const own = sb.ticks - (sa?.ticks ?? 0)
    if (own > 0) each.push([`${pid} ${sb.comm}`, own])
  }
  for (const [pid, sa] of a.procs) if (!oursA.has(pid) && !b.procs.has(pid)) others -= total(sa)
  const busiest = each.sort((x, y) => y[1] - x[1]).slice(0, 3).map(([who, d]) => `${who} ${pct(d).toFixed(0)}%`)
  return { othersPct: pct(Math.max(0, others)), stealPct: ((b.sys.steal - a.sys.steal) / all) * 100, busiest }
}

/**
 * Waits until other processes use less than `maxPct` % of one core over a 1 s window, for at most
 * `maxWaitS` seconds (as the anchor does: shared VMs have neighbours). Returns the seconds waited.
 */
export async function waitForQuiet(maxPct: number, maxWaitS: number): Promise<{ waitedS: number; othersPct: number }> {
  const start = Date.now()
  for (;;) {
    const a = snapshot()
    await sleep(1000)
    const { othersPct, busiest } = noiseBetween(a, snapshot())
    const waitedS = (Date.now() - start) / 1000
    if (othersPct < maxPct || waitedS >= maxWaitS) return { waitedS: Math.max(0, waitedS - 1), othersPct }
    console.log(`  waiting for quiet: others use ${othersPct.toFixed(0)}% of a core (${busiest.join(', ')})`)
  }
}

export interface Machine {
  nproc: number
  cpuModel: string
  kernel: string
  os: string
  node: string
  nginx: string
  wrk: string
  autocannon: string
  undici: string
  clkTck: number
}

export function describeMachine(versions: { autocannon: string; undici: string }): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const osRelease = sh('sh', ['-c', '. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"'])
  return {
    nproc: cpus().length,
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown',
    kernel: release(),
    os: osRelease || 'unknown',
    node: process.version,
    nginx: which('nginx') ? sh('nginx', ['-v']).replace('nginx version: ', '') : 'not installed',
    wrk: which('wrk') ? sh('wrk', ['-v']).split('\n')[0].replace(/\s*Copyright.*/, '') : 'not installed',
    autocannon: versions.autocannon,
    undici: versions.undici,
    clkTck: CLK_TCK,
  }
}
