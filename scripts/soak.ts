/**
 * `npm run soak -- --minutes N`: the balancer as a separate process (`fulcrum start`) in front of soak
 * targets (a child process), under a bounded keep-alive load with chaos for N minutes: targets killed and
 * restarted, answering 503, slow; the configuration rewritten and reloaded every ~5 s (SIGHUP and the admin
 * API in turn); a target registered and deregistered through the admin API every ~15 s. Every answer is
 * checked against its request. Samples the balancer's RSS and open FDs each second, stops it with SIGTERM,
 * prints a report and writes it to bench/results/soak-<UTC stamp>.md. Exits 1 when a request was mixed up
 * or lost, the balancer crashed or did not stop cleanly; 3 when the hard deadline (N minutes + 1) hit.
 *
 *   node scripts/soak.ts [--minutes 1] [--workers 2] [--concurrency 32] [--post-share 0.2] [--seed N]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { randomInt } from 'node:crypto'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, installCleanup, spawnManaged, stop, waitUntilServing, type Managed } from '../bench/processes.ts'
import { CLK_TCK, noiseBetween, snapshot, treeTicks, type Snapshot } from '../bench/system.ts'
import { Chaos, prng } from './soak/chaos.ts'
import { Load } from './soak/load.ts'
import { adminCall, Reconfigure, writeConfig, type ConfigShape } from './soak/reconfigure.ts'
import { renderReport, summarizeLog, type RunResult, type StopResult } from './soak/report.ts'
import { TreeSampler } from './soak/sampler.ts'
import { TargetProcess } from './soak/target-control.ts'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const NODE = join(REPO, 'node_modules/.bin/node')
const FILE_TARGETS = ['t1', 't2', 't3', 't4'] as const
/** Seconds allowed for in-flight requests after the load stops, and for the balancer's exit on SIGTERM. */
const DRAIN_S = 15
const STOP_BOUND_S = 20 // drainTimeout is 10s in the generated config

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    'post-share': { type: 'string', default: '0.2' },
    seed: { type: 'string' },
  },
})
const minutes = Number(flags.minutes)
const workers = Number(flags.workers)
const concurrency = Number(flags.concurrency)
const postShare = Number(flags['post-share'])
const seed = flags.seed === undefined ? randomInt(2 ** 31) : Number(flags.seed)
if (!(minutes > 0)) throw new Error(`--minutes must be a number > 0, got ${flags.minutes}`)
if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a whole number >= 1, got ${flags.workers}`)
if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency must be a whole number >= 1, got ${flags.concurrency}`)
if (!(postShare >= 0 && postShare <= 1)) throw new Error(`--post-share must be between 0 and 1, got ${flags['post-share']}`)
if (!Number.isInteger(seed)) throw new Error(`--seed must be a whole number, got ${flags.seed}`)

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
const t0 = Date.now()
const say = (line: string): void => console.log(`[soak +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`)

/** What the report needs, filled in as the run goes, so the deadline path can report whatever there is. */
const run = {
  dir: '',
  loadAvgStart: loadavg()[0],
  loadStartedAt: 0,
  loadEndedAt: 0,
  cpuStart: undefined as Snapshot | undefined,
  cpuEnd: undefined as Snapshot | undefined,
  targets: undefined as TargetProcess | undefined,
  balancer: undefined as Managed | undefined,
  load: undefined as Load | undefined,
  chaos: undefined as Chaos | undefined,
  reconf: undefined as Reconfigure | undefined,
  sampler: undefined as TreeSampler | undefined,
  lost: new Map<string, { method: 'GET' | 'POST'; startedAt: number }>(),
  targetCounts: {} as Record<string, number>,
  stop: undefined as StopResult | undefined,
  incidents: [] as string[],
}

/** Processes whose process group is `pgid` (the balancer is a group leader; its workers inherit it). */
function groupMembers(pgid: number): number {
  let n = 0
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // After the last ')': state, ppid, pgrp.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) n++
    } catch {
      // gone meanwhile
    }
  }
  return n
}

async function startBalancer(dir: string, targets: TargetProcess): Promise<{ proc: Managed; base: ConfigShape; file: string; logFile: string }> {
  const file = join(dir, 'fulcrum.yaml')
  const logFile = join(dir, 'balancer.log')
  for (let attempt = 1; ; attempt++) {
    const base: ConfigShape = {
      workers,
      listenPort: await freePort(),
      adminPort: await freePort(),
      dataDir: join(dir, 'data'),
      group: 'app',
      targets: FILE_TARGETS.map((n) => [targets.address(n), 1] as const),
    }
    writeConfig(file, base)
    const proc = spawnManaged('balancer', [NODE, 'src/cli/main.ts', 'start', '-c', file], { cwd: REPO, logFile })
    try {
      await waitUntilServing(proc, base.listenPort, 20_000)
      for (let i = 0; ; i++) {
        const ok = await adminCall(base.adminPort, 'GET', '/api/v1/status').then((r) => r.status === 200, () => false)
        if (ok) break
        if (i >= 50) throw new Error(`admin API on 127.0.0.1:${base.adminPort} did not answer; output:\n${proc.stderrTail()}`)
        await sleep(200)
      }
      return { proc, base, file, logFile }
    } catch (err) {
      await stop(proc)
      // A free port can be taken between our check and the balancer's bind: then try other ports.
      if (!/in use/i.test(proc.stderrTail()) || attempt >= 3) throw err
    }
  }
}

async function stopBalancer(proc: Managed): Promise<StopResult> {
  const started = Date.now()
  process.kill(proc.pid, 'SIGTERM')
  const exit = await Promise.race([proc.exited, sleep(STOP_BOUND_S * 1000).then(() => undefined)])
  const seconds = (Date.now() - started) / 1000
  // Workers leave once the primary is gone; give them a moment before counting what is left.
  let leftovers = groupMembers(proc.pid)
  for (let i = 0; leftovers > 0 && i < 30; i++) await sleep(100), (leftovers = groupMembers(proc.pid))
  await stop(proc, 1000)
  return { exit, seconds, boundS: STOP_BOUND_S, leftovers }
}

function result(): RunResult {
  const tally = run.load?.tally
  const failures: string[] = []
  if (!tally) failures.push('the load never started')
  if (tally && tally.mixedUp.length > 0) failures.push(`${tally.mixedUp.length} mixed-up responses`)
  if (run.lost.size > 0) failures.push(`${run.lost.size} lost requests`)
  if (run.stop === undefined) failures.push('the balancer was not stopped by SIGTERM')
  else if (run.stop.exit !== 0) failures.push(`the balancer's exit on SIGTERM: ${run.stop.exit ?? `none within ${run.stop.boundS} s`}`)
  if (run.stop && run.stop.leftovers > 0) failures.push(`${run.stop.leftovers} balancer processes left after its exit`)
  failures.push(...run.incidents)
  const loadSeconds = ((run.loadEndedAt || Date.now()) - (run.loadStartedAt || Date.now())) / 1000
  const cpu = run.cpuStart && run.cpuEnd && run.balancer ? cpuLine(run.cpuStart, run.cpuEnd, run.balancer.pid) : 'not measured'
  return {
    stamp,
    setup: [
      ['Run', `${minutes} min planned, ${loadSeconds.toFixed(0)} s of load; seed ${seed} (\`--seed ${seed}\` repeats the chaos choices)`],
      ['Load', `${concurrency} keep-alive clients (undici Pool), closed loop, ${(postShare * 100).toFixed(0)}% POSTs with 16-2048 random bytes`],
      ['Balancer', `\`node src/cli/main.ts start -c fulcrum.yaml\`, workers: ${workers}; files in ${run.dir}`],
      ['Config', 'round-robin over t1-t4 (+t5 while a reload adds it, +t6 while registered by API); passive maxFails 1, failTimeout 5s; retries default (tries 3 on error/timeout; POSTs only if never sent); drainTimeout 10s'],
      ['Chaos', 'every 2-5 s one of t1-t4 (at most 2 at once): kill (reset) + restart after 1-3 s, or 503 for 2-6 s, or slow (200-1500 ms) for 2-6 s; reload every 4-6 s (SIGHUP and POST /api/v1/reload in turn: t1 weight 1<->3 or t5 in/out); t6 registered/deregistered every 13-17 s'],
      ['Machine', `${cpus().length} cores, load average ${run.loadAvgStart.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end; ${cpu}. Other tests may share this machine.`],
    ],
    loadSeconds,
    tally: tally ?? new Load({ origin: 'http://127.0.0.1:1', concurrency: 1, postShare: 0, random: Math.random }).tally,
    lost: run.lost,
    chaos: run.chaos?.counts ?? new Map(),
    chaosErrors: run.chaos?.errors ?? [],
    reconfigure: run.reconf?.outcomes ?? new Map(),
    targetCounts: run.targetCounts,
    samples: run.sampler?.samples ?? [],
    samplesFile: run.sampler && run.dir ? join(run.dir, 'samples.csv') : undefined,
    pidsSeen: run.sampler?.pidsSeen.size ?? 0,
    workers,
    stop: run.stop,
    log: run.dir ? summarizeLog(join(run.dir, 'balancer.log')) : undefined,
    incidents: run.incidents,
    failures,
  }
}

function cpuLine(a: Snapshot, b: Snapshot, pid: number): string {
  const secs = Math.max(1, (run.loadEndedAt - run.loadStartedAt) / 1000)
  const balancer = (treeTicks(b, pid) - treeTicks(a, pid)) / CLK_TCK / secs
  const noise = noiseBetween(a, b)
  const soak = (treeTicks(b, process.pid) - treeTicks(a, process.pid)) / CLK_TCK / secs - balancer
  // othersPct includes processes that started and ended during the run (reaped into their parent's times).
  return `during the load the balancer used ${(balancer * 100).toFixed(0)}% of a core, the soak's clients and targets ${(soak * 100).toFixed(0)}%, processes outside the soak ${noise.othersPct.toFixed(0)}%`
}

function finish(): number {
  if (run.sampler && run.dir) writeFileSync(join(run.dir, 'samples.csv'), run.sampler.csv())
  const r = result()
  const text = renderReport(r)
  mkdirSync(join(REPO, 'bench/results'), { recursive: true })
  const out = join(REPO, 'bench/results', `soak-${stamp}.md`)
  writeFileSync(out, text)
  console.log(`\n${text}\nReport written to ${out}`)
  return r.failures.length === 0 ? 0 : 1
}

async function main(): Promise<number> {
  installCleanup()
  run.dir = mkdtempSync(join(tmpdir(), 'fulcrum-soak-'))
  say(`seed ${seed}; ${minutes} min; workers ${workers}; ${concurrency} clients; files in ${run.dir}`)
  const targets = (run.targets = await TargetProcess.start([...FILE_TARGETS, 't5', 't6']))
  const { proc, base, file } = await startBalancer(run.dir, targets)
  run.balancer = proc
  say(`balancer pid ${proc.pid} on 127.0.0.1:${base.listenPort}, admin 127.0.0.1:${base.adminPort}; targets ${JSON.stringify(targets.ports)}`)

  const sampler = (run.sampler = new TreeSampler(proc.pid))
  const load = (run.load = new Load({ origin: `http://127.0.0.1:${base.listenPort}`, concurrency, postShare, random: prng(seed ^ 0x5eed) }))
  const chaos = (run.chaos = new Chaos(targets, FILE_TARGETS, prng(seed), say))
  const reconf = (run.reconf = new Reconfigure({
    file, base, flipWeightOf: targets.address('t1'), toggled: targets.address('t5'), registered: targets.address('t6'),
    balancerPid: proc.pid, random: prng(seed + 1), log: say,
  }))
  sampler.start()
  run.cpuStart = snapshot()
  run.loadStartedAt = Date.now()
  load.start()
  chaos.start()
  reconf.start()

  const loadMs = minutes * 60_000
  const progress = setInterval(() => {
    const t = load.tally
    const s = sampler.last()
    const sent = t.sent.GET + t.sent.POST
    const failed = [...t.failures.values()].reduce((n, v) => n + v.GET + v.POST, 0)
    const stuck = [...load.open.values()].filter((o) => performance.now() - o.startedAt > 30_000).length
    say(`progress: sent ${sent} (${(sent / ((Date.now() - run.loadStartedAt) / 1000)).toFixed(0)}/s), failed ${failed}, mixed-up ${t.mixedUp.length}, open ${load.open.size}${stuck ? ` (${stuck} open > 30 s)` : ''}; RSS ${s ? (s.rssKb / 1024).toFixed(0) : '?'} MB, FDs ${s?.fds ?? '?'}, processes ${s?.procs ?? '?'}`)
  }, Math.max(5_000, loadMs / 10))
  const crashed = await Promise.race([sleep(loadMs).then(() => false), proc.exited.then(() => true)])
  clearInterval(progress)
  if (crashed) {
    run.incidents.push(`the balancer exited during the run (${proc.exitedWith}) after ${((Date.now() - run.loadStartedAt) / 1000).toFixed(1)} s of load; its last output:\n\n\`\`\`\n${proc.stderrTail().trim().slice(-3000)}\n\`\`\``)
    say('the balancer exited during the run')
  }

  say('stopping chaos and reconfiguration, then the load')
  await chaos.stop()
  await reconf.stop()
  run.loadEndedAt = Date.now()
  run.cpuEnd = snapshot()
  run.lost = await load.stop(DRAIN_S * 1000)
  run.targetCounts = await targets.counts().catch(() => ({}))
  sampler.sample()
  sampler.stop()
  if (!crashed) {
    say('SIGTERM to the balancer')
    run.stop = await stopBalancer(proc)
  }
  targets.stop()
  return finish()
}

const deadline = setTimeout(() => {
  run.incidents.push(`hard deadline (${minutes} min + 1 min) reached: everything killed`)
  say('hard deadline reached: killing everything')
  if (run.balancer) try { process.kill(-run.balancer.pid, 'SIGKILL') } catch { /* gone */ }
  run.targets?.stop()
  try { finish() } catch (err) { console.error(err) }
  process.exit(3)
}, (minutes + 1) * 60_000)

main().then(
  (code) => (clearTimeout(deadline), process.exit(code)),
  (err: Error) => {
    console.error(`soak: ${err.stack ?? err.message}`)
    process.exit(2)
  },
)
