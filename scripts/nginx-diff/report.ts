/** The table of cases and their differences, as `npm run nginx-diff` prints it, and each request's outcome. */
import type { CaseResult } from './run-case.ts'
import type { Difference, Observed } from './compare.ts'

/** Differences shown per case; the rest are counted. */
const SHOWN = 4

export function table(results: readonly CaseResult[], verbose = false): string {
  const rows = results.map((r) => [r.name, String(r.requests), r.outcome, summary(r)])
  const head = ['CASE', 'REQUESTS', 'OUTCOME', 'DIFFERENCES']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()
  const out = [line(head)]
  for (const [i, r] of results.entries()) {
    out.push(line(rows[i]))
    const shown = verbose ? r.unexplained : r.unexplained.slice(0, SHOWN)
    for (const d of shown) out.push(`    ${describe(d)}`)
    if (shown.length < r.unexplained.length) out.push(`    …and ${r.unexplained.length - shown.length} more (--verbose shows them)`)
    if (verbose) for (const e of r.explained) out.push(`    explained: ${describe(e.difference)}\n      because: ${e.reason}`)
    for (const s of r.stale) out.push(`    expected but did not happen (update the case and the README): /${s.match}/`)
  }
  const unexplained = results.reduce((n, r) => n + r.unexplained.length, 0)
  const explained = results.reduce((n, r) => n + r.explained.length, 0)
  out.push('', `${results.length} case${results.length === 1 ? '' : 's'}, ${unexplained} unexplained difference${unexplained === 1 ? '' : 's'}, ${explained} explained (README "Bring your nginx.conf")`)
  return out.join('\n')
}

function summary(r: CaseResult): string {
  if (r.unexplained.length === 0 && r.explained.length === 0) return 'none'
  const parts: string[] = []
  if (r.unexplained.length > 0) parts.push(`${r.unexplained.length} unexplained`)
  if (r.explained.length > 0) parts.push(`${r.explained.length} explained (${[...new Set(r.explained.map((e) => e.difference.field))].join(', ')})`)
  return parts.join(', ')
}

export function describe(d: Difference): string {
  const where = d.request === 0 ? '' : `#${d.request} ${d.label}: `
  return `${where}${d.field}: ${d.text}`
}

/** Each request of each case: status and the backends it reached, on each side. */
export function trace(results: readonly CaseResult[]): string {
  const out: string[] = []
  for (const r of results) {
    out.push(`${r.name} (${r.outcome})`)
    r.trace.forEach((t, i) => {
      const a = outcome(t.nginx)
      const b = outcome(t.fulcrum)
      out.push(`  #${i + 1} ${t.label}: nginx ${a}${a === b ? ' (fulcrum: the same)' : `; fulcrum ${b}`}`)
    })
  }
  return out.join('\n')
}

function outcome(o: Observed): string {
  const status = o.response.error !== undefined ? `no response (${o.response.error})` : String(o.response.status)
  return o.attempts.length === 0 ? status : `${status} from ${o.attempts.map((a) => a.backend).join(' then ')}`
}
