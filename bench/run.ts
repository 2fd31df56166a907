/**
 * `npm run bench`: Fulcrum next to nginx (and a naive Node proxy) in front of the same two local
 * backends, interleaved in repeats, with each proxy's CPU cost per request. The method is the anchor's
 * (shared/reference/anchor-benchmarks.md), so its numbers and ours compare like with like.
 * See bench/README.md for flags and environment variables.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { measure, warmUp, type LoadGen } from './load.ts'
import { httpGet, installCleanup, stop, stopAll } from './processes.ts'
import { summarizeProfile } from './profile-summary.ts'
import { machineTable, repeatTable, summaryTable, verdict, type Run } from './report.ts'
import { CLK_TCK, describeMachine, noiseBetween, snapshot, treeTicks, waitForQuiet, which } from './system.ts'
import { ALL_TARGETS, REPO, startBackends, startTarget, type Backends, type Target, type TargetName } from './targets.ts'

const env = process.env
const { values: flags } = parseArgs({
  options: {
    repeats: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    warmup: { type: 'string' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    loadgen: { type: 'string' },
    'no-nginx': { type: 'boolean', default: false },
  },
})

const quick = flags.quick
const opts = {
  repeats: Number(flags.repeats ?? env.REPEATS ?? (quick ? 1 : 3)),
  /** Seconds per measured run. */
  duration: Number(flags.duration ?? env.DURATION ?? (quick ? 3 : 10)),
  connections: Number(flags.connections ?? env.CONNECTIONS ?? 50),
  warmup: Number(flags.warmup ?? env.WARMUP ?? 2),
  /** Other processes must use less than this % of one core before a measured run starts ... */
  quietPct: Number(env.QUIET_PCT ?? 10),
  /** ... waiting at most this many seconds for it. */
  quietMaxS: Number(env.QUIET_MAX ?? 90),
  only: (flags.only ?? env.ONLY)?.split(',').map((s) => s.trim()),
  profile: flags.profile || env.PROFILE === '1',
  fulcrumCmd: env.FULCRUM_CMD || undefined,
}
for (const [k, v] of Object.entries(opts)) {
  if (typeof v === 'number' && !(v >= 0)) throw new Error(`--${k} must be a number >= 0, got ${v}`)
}
const unknown = opts.only?.filter((t) => !(ALL_TARGETS as readonly string[]).includes(t)) ?? []
if (unknown.length) throw new Error(`--only: unknown target(s) ${unknown.join(', ')}; known: ${ALL_TARGETS.join(', ')}`)

const hasNginx = !flags['no-nginx'] && env.NO_NGINX !== '1' && which('nginx') !== undefined
const loadgen: LoadGen = (flags.loadgen ?? env.LOADGEN) === 'autocannon' || !which('wrk') ? 'autocannon' : 'wrk'
const selected = ALL_TARGETS.filter((t) => (opts.only ? opts.only.includes(t) : true) && (hasNginx || !t.startsWith('nginx-')))

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
const dir = join(REPO, 'bench/results', stamp)
const profileDir = opts.profile ? join(dir, 'profile') : undefined
mkdirSync(profileDir ?? dir, { recursive: true })

const require = createRequire(import.meta.url)
const machine = describeMachine({
  autocannon: (require('autocannon/package.json') as { version: string }).version,
  undici: (require('undici/package.json') as { version: string }).version,
})

/** Requests served by each backend so far (from stub_status), to check the round-robin split. */
async function backendCounts(b: Backends): Promise<number[] | undefined> {
  const counts = await Promise.all(b.ports.map(async (p) => {
    const res = await httpGet(p, '/__bench_status')
    return Number(/\n\s*\d+\s+\d+\s+(\d+)/.exec(res?.body ?? '')?.[1])
  }))
  return counts.every(Number.isFinite) ? counts : undefined
}

async function measureOnce(t: Target, repeat: number, backends: Backends): Promise<Run> {
  const load = { port: t.port, seconds: opts.duration, connections: opts.connections }
  await warmUp(loadgen, { ...load, seconds: opts.warmup })
  const quiet = await waitForQuiet(opts.quietPct, opts.quietMaxS)
  const countsBefore = await backendCounts(backends)
  const before = snapshot()
  const res = await measure(loadgen, load)
  const after = snapshot()
  const countsAfter = await backendCounts(backends)
  const noise = noiseBetween(before, after)
  let split: Run['split']
  if (countsBefore && countsAfter) {
    const [d1, d2] = [countsAfter[0] - countsBefore[0], countsAfter[1] - countsBefore[1]]
    split = [(100 * d1) / (d1 + d2 || 1), (100 * d2) / (d1 + d2 || 1)]
  }
  return {
    repeat, target: t.name, rps: res.rps, p50Ms: res.p50Ms, p99Ms: res.p99Ms, requests: res.requests, seconds: res.seconds,
    cpuUsPerReq: ((treeTicks(after, t.cpuPid) - treeTicks(before, t.cpuPid)) * (1e6 / CLK_TCK)) / Math.max(1, res.requests),
    badStatus: res.badStatus, errors: res.errors, split, othersPct: noise.othersPct, stealPct: noise.stealPct,
    waitedQuietS: quiet.waitedS,
  }
}

async function main(): Promise<number> {
  installCleanup()
  console.log(`Fulcrum bench -> ${dir}`)
  if (opts.fulcrumCmd && selected.includes('fulcrum')) console.log(`fulcrum = FULCRUM_CMD: ${opts.fulcrumCmd}`)
  if (!hasNginx) console.log('nginx is not installed (or --no-nginx): node:http backends, no nginx-1w or nginx-2w target.')
  const backends = await startBackends(dir, hasNginx)
  console.log(machineTable(machine, loadgen, `${backends.kind}, 127.0.0.1:${backends.ports.join(' and :')}`) + '\n')

  const failures: { target: string; error: string }[] = []
  const targets: Target[] = []
  for (const name of selected) {
    try {
      targets.push(await startTarget(name, { dir, backends, fulcrumCmd: opts.fulcrumCmd, profileDir }))
    } catch (err) {
      failures.push({ target: name, error: (err as Error).message })
      console.error(`${name}: not measured: ${(err as Error).message}\n`)
    }
  }

  const runs: Run[] = []
  const perRepeat: string[] = []
  const alive = new Set(targets)
  for (let repeat = 1; repeat <= opts.repeats; repeat++) {
    for (const t of targets) {
      if (!alive.has(t)) continue
      try {
        const run = await measureOnce(t, repeat, backends)
        runs.push(run)
        console.log(`r${repeat} ${t.name}: ${Math.round(run.rps)} req/s, ${run.cpuUsPerReq.toFixed(1)} µs CPU/req`)
      } catch (err) {
        failures.push({ target: t.name, error: `repeat ${repeat}: ${(err as Error).message}` })
        console.error(`r${repeat} ${t.name}: failed: ${(err as Error).message}`)
      }
      if (t.proc?.exitedWith !== undefined) {
        alive.delete(t)
        const error = `exited (${t.proc.exitedWith}) during repeat ${repeat}; output:\n${t.proc.stderrTail()}`
        failures.push({ target: t.name, error })
        console.error(`${t.name} ${error}`)
      }
    }
    const these = runs.filter((r) => r.repeat === repeat)
    if (these.length === 0) continue
    perRepeat.push(`### Repeat ${repeat}\n\n${repeatTable(these)}`)
    console.log(`\nRepeat ${repeat}\n${repeatTable(these)}\n`)
  }

  // Stop the proxies first and politely: Node writes its --cpu-prof file on the way out.
  await Promise.all(targets.map((t) => (t.proc ? stop(t.proc) : undefined)))
  await stopAll()

  const summary = summaryTable(runs, selected)
  const goal = verdict(runs)
  console.log(`Summary: medians of ${opts.repeats} repeat(s), ${opts.duration}s each, ${opts.connections} connections, ${loadgen}`)
  console.log(summary)
  if (goal) console.log(`\n${goal}`)
  const profNote = profileDir ? 'fulcrum ran under --cpu-prof: its CPU figures include the profiler\'s own cost.' : ''
  if (profNote) console.log(profNote)

  let profiles = ''
  if (profileDir) {
    const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))
    if (files.length === 0) profiles = `No .cpuprofile in ${profileDir}: did fulcrum run and exit cleanly on SIGTERM?`
    else profiles = files.map((f) => summarizeProfile(join(profileDir, f))).join('\n\n')
    console.log(`\nfulcrum CPU profile (self time, warm-up and idle gaps included)\n${profiles}`)
  }

  const md = [
    `# Fulcrum bench ${stamp}`,
    `Medians of ${opts.repeats} interleaved repeat(s); ${opts.duration} s per run after ${opts.warmup} s warm-up; ` +
      `${opts.connections} connections; load by ${loadgen}` +
      `${loadgen === 'autocannon' ? ' (latencies in whole milliseconds)' : ''}. "CPU ÷ X" is the median of same-repeat ratios. ` +
      'Compare only numbers from the same run: this VM drifts by tens of percent over time.',
    opts.fulcrumCmd ? `\`fulcrum\` is FULCRUM_CMD: \`${opts.fulcrumCmd}\`` : '',
    '## Machine', machineTable(machine, loadgen, backends.kind),
    '## Summary', summary, goal ?? '', profNote,
    ...perRepeat,
    failures.length ? `## Failures\n\n${failures.map((f) => `- ${f.target}: ${f.error}`).join('\n')}` : '',
    profiles ? `## fulcrum CPU profile\n\n\`\`\`\n${profiles}\n\`\`\`` : '',
  ]
  writeFileSync(join(dir, 'summary.md'), md.filter(Boolean).join('\n\n') + '\n')
  const raw = { stamp, machine, options: { ...opts, loadgen, backends: backends.kind, targets: selected }, runs, failures }
  writeFileSync(join(dir, 'results.json'), JSON.stringify(raw, null, 2) + '\n')
  console.log(`\nWrote ${join(dir, 'summary.md')} and results.json`)
  if (failures.length) console.error(`${failures.length} failure(s): ${[...new Set(failures.map((f) => f.target))].join(', ')}`)
  return failures.length ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error(err)
    await stopAll()
    process.exit(1)
  },
)
