/**
 * Top functions by self time in a V8 .cpuprofile (what `node --cpu-prof` writes), to find hot spots
 * without opening DevTools. Self time of a node = the time of the samples that landed in it.
 *   node bench/profile-summary.ts CPU.*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  /** Microseconds between consecutive samples; timeDeltas[i] precedes samples[i]. */
  timeDeltas: number[]
}

/** V8's pseudo-frames: not code of ours, but they tell where the rest of the time went. */
const IDLE = '(idle)'

function label(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame
  const name = functionName || '(anonymous)'
  if (!url) return name
  // file:///work/main/src/x.ts -> src/x.ts; node:internal/... stays as it is.
  const where = url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url
  return `${name} ${where}:${lineNumber + 1}`
}

export function summarizeProfile(path: string, top = 25): string {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<string, number>()
  let total = 0
  // As DevTools does: sample i lasts until sample i+1, so it gets timeDeltas[i + 1].
  for (let i = 0; i < p.samples.length - 1; i++) {
    const dt = p.timeDeltas[i + 1]
    const key = label(byId.get(p.samples[i])!)
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt)
    total += dt
  }
  const idle = selfUs.get(IDLE) ?? 0
  const busy = Math.max(1, total - idle)
  const rows = [...selfUs].filter(([k]) => k !== IDLE).sort((a, b) => b[1] - a[1]).slice(0, top)
  const lines = [
    `${path}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (idle ${(idle / 1e6).toFixed(1)} s)`,
    `${'self ms'.padStart(9)} ${'% busy'.padStart(7)}  function`,
    ...rows.map(([k, us]) => `${(us / 1000).toFixed(0).padStart(9)} ${((us / busy) * 100).toFixed(1).padStart(7)}  ${k}`),
  ]
  return lines.join('\n')
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
  if (positionals.length === 0) {
    console.error('usage: node bench/profile-summary.ts FILE.cpuprofile... [--top N]')
    process.exit(2)
  }
  for (const f of positionals) console.log(summarizeProfile(f, Number(values.top)) + '\n')
}
