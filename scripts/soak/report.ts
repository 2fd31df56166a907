/**
 * The soak's report, as markdown: printed at the end of a run and written to bench/results/soak-<stamp>.md.
 * Synchronous, so the hard-deadline path can still write what it has.
 */
import { readFileSync } from 'node:fs'
import type { Event } from './chaos.ts'
import { percentile, type Method, type Tally } from './load.ts'
import type { Sample } from './sampler.ts'

export interface LogSummary {
  /** Lines per pino level name. */
  readonly levels: Record<string, number>
  /** Warnings and errors by message, most frequent first. */
  readonly problems: ReadonlyArray<readonly [string, number]>
  readonly reloaded: number
  readonly rejected: number
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

/** Counts the balancer's JSON log lines (pino) by level, and its warnings and errors by message. */
export function summarizeLog(file: string): LogSummary {
  const levels: Record<string, number> = {}
  const problems = new Map<string, number>()
  let reloaded = 0
  let rejected = 0
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue
    let level = 'not JSON'
    let msg = line.slice(0, 120)
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string }
      level = LEVELS[entry.level ?? 0] ?? String(entry.level)
      msg = entry.msg ?? ''
    } catch {
      // stderr output (a stack trace, a Node warning): counted as it is
    }
    levels[level] = (levels[level] ?? 0) + 1
    if (msg === 'configuration reloaded') reloaded++
    if (msg.includes('reload rejected')) rejected++
    if (level !== 'info' && level !== 'debug' && level !== 'trace') problems.set(`${level}: ${msg}`, (problems.get(`${level}: ${msg}`) ?? 0) + 1)
  }
  return { levels, problems: [...problems].sort((a, b) => b[1] - a[1]), reloaded, rejected }
}

export interface StopResult {
  /** Exit code or signal; undefined when it did not exit within the bound. */
  readonly exit: number | string | undefined
  readonly seconds: number
  readonly boundS: number
  /** Processes of the balancer's group still alive after it exited. */
  readonly leftovers: number
}

export interface RunResult {
  readonly stamp: string
  readonly setup: ReadonlyArray<readonly [string, string]>
  readonly loadSeconds: number
  readonly tally: Tally
  readonly lost: ReadonlyMap<string, { method: Method; startedAt: number }>
  readonly chaos: ReadonlyMap<Event, number>
  readonly chaosErrors: readonly string[]
  readonly reconfigure: ReadonlyMap<string, number>
  readonly targetCounts: Record<string, number>
  readonly samples: readonly Sample[]
  /** Where the whole curve was written as CSV, if it was. */
  readonly samplesFile: string | undefined
  readonly pidsSeen: number
  readonly workers: number
  readonly stop: StopResult | undefined
  readonly log: LogSummary | undefined
  /** Why the run ended early or went wrong outside the counts (crash, deadline), with evidence. */
  readonly incidents: readonly string[]
  readonly failures: readonly string[]
}

const pct = (n: number, of: number): string => (of === 0 ? '-' : `${((n / of) * 100).toFixed(2)}%`)
const mb = (kb: number): string => (kb / 1024).toFixed(1)
const table = (head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')

/** Samples nearest to 0%, 10%, ..., 100% of the sampled time. */
function everyTenth(samples: readonly Sample[]): Sample[] {
  if (samples.length === 0) return []
  const end = samples.at(-1)!.t
  const picked: Sample[] = []
  for (let k = 0; k <= 10; k++) {
    const want = (end * k) / 10
    const s = samples.reduce((best, x) => (Math.abs(x.t - want) < Math.abs(best.t - want) ? x : best))
    if (picked.at(-1) !== s) picked.push(s)
  }
  return picked
}

function requests(r: RunResult): string {
  const t = r.tally
  const sum = (m: Method) => [...t.status.values()].reduce((n, row) => n + row[m], 0)
  const failed = (m: Method) => [...t.failures.values()].reduce((n, row) => n + row[m], 0)
  const mixed = (m: Method) => t.mixedUp.filter((x) => x.method === m).length
  const lost = (m: Method) => [...r.lost.values()].filter((x) => x.method === m).length
  const col = (f: (m: Method) => number) => [f('GET'), f('POST'), f('GET') + f('POST')]
  const sent = col((m) => t.sent[m])
  const fails = col(failed)
  const rows: Array<Array<string | number>> = [
    ['sent', ...sent],
    ['answered (any status)', ...col(sum)],
    ['answered 200, verified', ...col((m) => t.verified[m])],
    ['failed (5xx or network error)', ...fails],
    ['failed share', ...fails.map((f, i) => pct(f, sent[i]))],
    ['mixed-up (must be 0)', ...col(mixed)],
    ['lost (must be 0)', ...col(lost)],
  ]
  const accounted = sum('GET') + sum('POST') + t.errored + r.lost.size
  const lat = [...t.getLatencies].sort((a, b) => a - b)
  const ms = (p: number) => `${percentile(lat, p).toFixed(1)} ms`
  return [
    '## Requests',
    '',
    table(['', 'GET', 'POST', 'all'], rows),
    '',
    `- Throughput: ${(sent[2] / Math.max(1, r.loadSeconds)).toFixed(0)} requests/s over ${r.loadSeconds.toFixed(0)} s of load.`,
    `- Accounting: sent ${sent[2]} = answered ${sum('GET') + sum('POST')} + network errors ${t.errored} + lost ${r.lost.size}` +
      (accounted === sent[2] ? ' (balanced).' : ` = ${accounted}: **does not balance**.`),
    `- GET latency of verified 200s: p50 ${ms(50)}, p90 ${ms(90)}, p99 ${ms(99)}, max ${ms(100)}.`,
  ].join('\n')
}

function failures(r: RunResult): string {
  const t = r.tally
  const sent = t.sent.GET + t.sent.POST
  const rows = [...t.failures].sort((a, b) => b[1].GET + b[1].POST - (a[1].GET + a[1].POST))
  const chaos503 = (row: [string, { GET: number }]) => row[0].includes('from a target (chaos')
  const getOther = rows.filter((row) => !chaos503(row)).reduce((n, [, v]) => n + v.GET, 0)
  const statuses = [...t.status].sort((a, b) => Number(a[0]) - Number(b[0])).map(([s, v]) => [s, v.GET, v.POST, v.GET + v.POST])
  return [
    '## Answered per status',
    '',
    table(['status', 'GET', 'POST', 'all'], statuses),
    '',
    '## Failures by cause',
    '',
    rows.length === 0 ? 'None.' : table(['cause', 'GET', 'POST', 'share of all sent'], rows.map(([c, v]) => [c, v.GET, v.POST, pct(v.GET + v.POST, sent)])),
    '',
    `- Expected under chaos and not counted against the balancer. A target's own 503 reaches the client by design: ` +
      '`retries.on` defaults to `[error, timeout]`, so a 503 from a target is neither retried nor a passive failure.',
    `- GETs that failed for any other reason (what retries should hide): ${getOther} of ${t.sent.GET} (${pct(getOther, t.sent.GET)}).`,
    '- POSTs are not retried once the request reached a target (`nonIdempotent: false`), so a killed target fails the POSTs it was serving.',
  ].join('\n')
}

function integrity(r: RunResult): string {
  const now = performance.now()
  const mixed = r.tally.mixedUp.slice(0, 10).map((m) => `- request ${m.id} (${m.method}, status ${m.status}): ${m.why}`)
  const lost = [...r.lost].slice(0, 10).map(([id, o]) => `- request ${id} (${o.method}), open for ${((now - o.startedAt) / 1000).toFixed(1)} s`)
  return [
    `## Mixed-up responses: ${r.tally.mixedUp.length}`,
    '',
    ...(mixed.length ? mixed : ['Every answer named its own request (id in body/header, POST bodies byte for byte).']),
    '',
    `## Lost requests: ${r.lost.size}`,
    '',
    ...(lost.length ? lost : ['Every request sent was answered or failed with an error.']),
  ].join('\n')
}

function targets(r: RunResult): string {
  const names = [...new Set([...Object.keys(r.targetCounts), ...r.tally.perTarget.keys()])].sort()
  return [
    '## Targets',
    '',
    table(['target', 'verified 200s (client side)', 'requests received (target side)'], names.map((n) => [n, r.tally.perTarget.get(n) ?? 0, r.targetCounts[n] ?? '-'])),
  ].join('\n')
}

function changes(r: RunResult): string {
  const chaos = [...r.chaos].map(([e, n]) => [e, n])
  const reconf = [...r.reconfigure].sort().map(([o, n]) => [o, n])
  const log = r.log
  const lines = [
    '## Chaos and reconfiguration',
    '',
    table(['chaos event', 'count'], chaos),
    ...(r.chaosErrors.length ? ['', `Chaos errors: ${r.chaosErrors.slice(0, 5).join('; ')}`] : []),
    '',
    table(['reconfiguration', 'count'], reconf),
  ]
  if (log) {
    lines.push('', `Balancer log: ${Object.entries(log.levels).map(([l, n]) => `${n} ${l}`).join(', ')}; "configuration reloaded" ${log.reloaded}×, reload rejected ${log.rejected}×.`)
    if (log.problems.length) lines.push('', table(['warning/error in the balancer log', 'count'], log.problems.slice(0, 15).map(([m, n]) => [m, n])))
  }
  return lines.join('\n')
}

/** Least-squares slope of f over the samples, per minute. */
function slopePerMin(xs: readonly Sample[], f: (x: Sample) => number): number {
  if (xs.length < 2) return 0
  const mt = xs.reduce((a, x) => a + x.t, 0) / xs.length
  const mf = xs.reduce((a, x) => a + f(x), 0) / xs.length
  const num = xs.reduce((a, x) => a + (x.t - mt) * (f(x) - mf), 0)
  const den = xs.reduce((a, x) => a + (x.t - mt) ** 2, 0)
  return den === 0 ? 0 : (num / den) * 60
}

function resources(r: RunResult): string {
  const s = r.samples
  if (s.length === 0) return '## Balancer memory and file descriptors\n\nNo samples.'
  const min = (f: (x: Sample) => number) => s.reduce((a, x) => Math.min(a, f(x)), Infinity)
  const max = (f: (x: Sample) => number) => s.reduce((a, x) => Math.max(a, f(x)), -Infinity)
  const tenth = Math.max(1, Math.floor(s.length / 10))
  const avg = (xs: readonly Sample[], f: (x: Sample) => number) => xs.reduce((a, x) => a + f(x), 0) / xs.length
  const first = s.slice(0, tenth)
  const last = s.slice(-tenth)
  const secondHalf = s.slice(Math.floor(s.length / 2))
  const rss = (x: Sample) => x.rssKb
  const workersRss = (x: Sample) => x.rssKb - x.primaryRssKb
  const expected = 1 + (r.workers > 1 ? r.workers : 0)
  return [
    '## Balancer memory and file descriptors (primary + workers)',
    '',
    table(['t (s)', 'RSS MB', 'primary MB', 'workers MB', 'FDs', 'primary FDs', 'processes'],
      everyTenth(s).map((x) => [x.t.toFixed(0), mb(x.rssKb), mb(x.primaryRssKb), mb(workersRss(x)), x.fds, x.primaryFds, x.procs])),
    '',
    `- ${s.length} samples, one a second${r.samplesFile ? ` (all in ${r.samplesFile})` : ''}; the last one is after the load stopped.`,
    `- RSS min ${mb(min(rss))} MB, max ${mb(max(rss))} MB; FDs min ${min((x) => x.fds)}, max ${max((x) => x.fds)}.`,
    `- First 10% vs last 10% of samples: RSS ${mb(avg(first, rss))} -> ${mb(avg(last, rss))} MB (workers ${mb(avg(first, workersRss))} -> ${mb(avg(last, workersRss))}), FDs ${avg(first, (x) => x.fds).toFixed(0)} -> ${avg(last, (x) => x.fds).toFixed(0)}.`,
    `- Trend over the second half (least squares): RSS ${mb(slopePerMin(secondHalf, rss))} MB/min, FDs ${slopePerMin(secondHalf, (x) => x.fds).toFixed(1)}/min.`,
    `- Processes seen in the tree: ${r.pidsSeen} (${expected} expected${r.pidsSeen > expected ? '; more means a worker was replaced' : ''}).`,
  ].join('\n')
}

function stopping(r: RunResult): string {
  const st = r.stop
  if (!st) return '## Stop\n\nThe balancer was not stopped by SIGTERM (see incidents).'
  const exit = st.exit === undefined ? `did **not** exit within ${st.boundS} s` : `exited with ${st.exit} after ${st.seconds.toFixed(1)} s (bound ${st.boundS} s)`
  return `## Stop\n\nSIGTERM to the primary: ${exit}; processes of its group left afterwards: ${st.leftovers}.`
}

export function renderReport(r: RunResult): string {
  const pass = r.failures.length === 0
  return [
    `# Fulcrum soak ${r.stamp}: ${pass ? 'PASS' : 'FAIL'}`,
    '',
    ...r.setup.map(([k, v]) => `- ${k}: ${v}`),
    '',
    ...(r.incidents.length ? ['## Incidents', '', ...r.incidents.map((i) => `- ${i}`), ''] : []),
    requests(r),
    '',
    failures(r),
    '',
    integrity(r),
    '',
    targets(r),
    '',
    changes(r),
    '',
    resources(r),
    '',
    stopping(r),
    '',
    '## Verdict',
    '',
    pass ? 'PASS: no mixed-up or lost request, the balancer stayed up and stopped cleanly.' : r.failures.map((f) => `- FAIL: ${f}`).join('\n'),
    '',
  ].join('\n')
}
