/**
 * One case from start to end: read the configuration, start its recording backends, print nginx's and
 * Fulcrum's copies, start both, send the requests to nginx and then to Fulcrum (the same backends answer
 * both), compare, stop everything. Ports in what was recorded are put back to those of the configuration,
 * so `Host: localhost:8080` reads the same from both sides.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readNginxTree } from '../../src/config/nginx/include.ts'
import { Backends, type Attempt } from './backends.ts'
import { defaultRequests, expand, type Case, type Expected, type RequestSpec } from './case.ts'
import { send, type Response } from './client.ts'
import { compareLogs, compareRequest, compareStickiness, type Difference, type Observed } from './compare.ts'
import { plan, print, type Plan, type Ports, type Printed, type Side } from './conf.ts'
import { CLI, NGINX, nginxPrefix, startFulcrum, startNginx, type Running, type Started } from './servers.ts'

export interface CaseResult {
  name: string
  requests: number
  /** What happened to the configuration: `served`, `both refused`, or who refused. */
  outcome: string
  unexplained: Difference[]
  explained: { difference: Difference; reason: string }[]
  /** Expected differences that did not happen (the README may be out of date). */
  stale: Expected[]
  /** Each request with what both sides did, for --trace. */
  trace: { label: string; nginx: Observed; fulcrum: Observed }[]
}

/** Temp folders of cases still running, for removeTempFolders. */
const folders = new Set<string>()

/** On Ctrl-C, when no finally block will run: the temp folders of the cases that were running. */
export function removeTempFolders(): void {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true })
}

export async function runCase(c: Case, options: { keep?: boolean } = {}): Promise<CaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-diff-'))
  if (!options.keep) folders.add(dir)
  // As root, nginx's workers run as nobody and must reach their temp folders in here.
  chmodSync(dir, 0o755)
  const result: CaseResult = { name: c.name, requests: 0, outcome: 'served', unexplained: [], explained: [], stale: [], trace: [] }
  const held: Held = { running: [] }
  try {
    classify(c, await differencesOf(c, dir, result, held), result)
    return result
  } finally {
    await Promise.all(held.running.map((r) => r.stop()))
    await held.backends?.close()
    if (!options.keep) rmSync(dir, { recursive: true, force: true })
    folders.delete(dir)
  }
}

/** What a case started, for runCase to stop whatever happens. */
type Held = { backends?: Backends; running: Running[] }

/** Runs the case in `dir`; fills in the result's outcome, request count and trace. */
async function differencesOf(c: Case, dir: string, result: CaseResult, held: Held): Promise<Difference[]> {
  const tree = readNginxTree(c.conf)
  if (tree.problems.length > 0) {
    // Fulcrum cannot read it (syntax, an include): only whether each side refuses it can be compared.
    const [nginx, fulcrum] = await Promise.all([nginxTest(c.conf, dir), fulcrumValidate(c.conf)])
    result.outcome = refusalOutcome(nginx, fulcrum)
    return refusals(c, nginx, fulcrum, { nginx: (s) => s, fulcrum: (s) => s })
  }
  const p = plan(tree.directives)
  const backends = held.backends = await Backends.start(p.backends, c.backends)
  const ports: Ports = { listen: new Map(), backend: backends.ports }
  const printed = {} as Record<Side, Printed>
  const targets = (side: Side) => p.ports.map((port) => address(p, ports, port, side))
  let nginx: Started
  let fulcrum: Started
  for (let attempt = 1; ; attempt++) {
    for (const port of p.ports) ports.listen.set(port, { nginx: await freePort(), fulcrum: await freePort() })
    for (const side of ['nginx', 'fulcrum'] as const) {
      printed[side] = print(tree.directives, side, ports, p.upstreams, { dir, mainFile: c.conf, nginxPrefix: nginxPrefix() })
      writeFileSync(join(dir, `${side}.conf`), printed[side].text)
    }
    ;[nginx, fulcrum] = await Promise.all([
      startNginx(join(dir, 'nginx.conf'), dir, targets('nginx')),
      startFulcrum(join(dir, 'fulcrum.conf'), targets('fulcrum')),
    ])
    if (nginx.ok) held.running.push(nginx.server)
    if (fulcrum.ok) held.running.push(fulcrum.server)
    // A free port can be taken by another program before the server binds it: choose others and start again.
    const taken = [nginx, fulcrum].some((s) => !s.ok && /EADDRINUSE|address (is )?already in use/i.test(s.output))
    if (!taken || attempt === 3) break
    await Promise.all(held.running.splice(0).map((r) => r.stop()))
  }
  if (!nginx.ok || !fulcrum.ok) {
    const refusedN = nginx.ok ? undefined : nginx.output
    const refusedF = fulcrum.ok ? undefined : fulcrum.output
    const back = (side: Side) => (text: string) => renumber(backToOriginal(text, dir, printed.nginx), portsBack(p, ports, side))
    result.outcome = refusalOutcome(refusedN, refusedF)
    return refusals(c, refusedN, refusedF, { nginx: back('nginx'), fulcrum: back('fulcrum') })
  }
  const differences: Difference[] = []
  if (c.refused) differences.push({ request: 0, label: 'configuration', field: 'refusal', text: 'both started, but this case expects both to refuse' })
  const requests = expand(c.requests ?? defaultRequests(p))
  result.requests = requests.length
  const observed: Record<Side, Observed[]> = { nginx: [], fulcrum: [] }
  for (const side of ['nginx', 'fulcrum'] as const) {
    const undo = portsBack(p, ports, side)
    for (const spec of requests) {
      const port = spec.port ?? p.ports[0]
      if (!p.ports.includes(port)) throw new Error(`${c.name}: a request is sent to port ${port}, which no listen names (${p.ports.join(', ') || 'none'})`)
      const mark = backends.log.length
      const response = await send(spec, address(p, ports, port, side))
      observed[side].push(normalise({ response, attempts: backends.log.slice(mark) }, undo))
    }
  }
  requests.forEach((spec, i) => {
    const label = describe(spec)
    result.trace.push({ label, nginx: observed.nginx[i], fulcrum: observed.fulcrum[i] })
    differences.push(...compareRequest(i + 1, label, observed.nginx[i], observed.fulcrum[i], p))
  })
  differences.push(...compareStickiness(requests.map((r) => JSON.stringify(r)), observed.nginx, observed.fulcrum, p))
  // Stopped first: Fulcrum writes its access log lines asynchronously, and flushes them on the way out.
  await Promise.all(held.running.map((r) => r.stop()))
  printed.nginx.accessLogs.forEach((file, i) => {
    const lines = (side: Side, f: string) => readLog(f).map((l) => renumber(l, portsBack(p, ports, side)))
    differences.push(...compareLogs(i + 1, lines('nginx', file), lines('fulcrum', printed.fulcrum.accessLogs[i])))
  })
  return differences
}

/** Runs the cases `jobs` at a time (each has its own ports and backends), results in the cases' order. */
export async function runAll(list: readonly Case[], n: number, keep = false): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array(list.length)
  let next = 0
  const worker = async () => {
    while (next < list.length) {
      const i = next++
      results[i] = await runCase(list[i], { keep })
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, list.length) }, worker))
  return results
}

/** Each difference explained by the first expectation whose pattern finds it; expectations that found none are stale. */
function classify(c: Case, differences: Difference[], result: CaseResult): void {
  const used = new Set<Expected>()
  for (const d of differences) {
    const e = (c.expectDifferences ?? []).find((x) => new RegExp(x.match).test(`${d.field}: ${d.text}`))
    if (e === undefined) result.unexplained.push(d)
    else {
      used.add(e)
      result.explained.push({ difference: d, reason: e.reason })
    }
  }
  result.stale = (c.expectDifferences ?? []).filter((e) => !used.has(e))
}

function refusals(c: Case, nginx: string | undefined, fulcrum: string | undefined, back: Record<Side, (s: string) => string>): Difference[] {
  const at = (field: string, text: string): Difference => ({ request: 0, label: 'configuration', field, text })
  // Fulcrum ends with "not started: FILE has N problems" after the problems, or gives its only reason there.
  const lines = (side: Side, s: string) => {
    const all = back[side](s).split('\n').map((l) => l.trim()).filter((l) => l !== '')
    const problems = all.filter((l) => !/^fulcrum: not started: .* has \d+ problems?$/.test(l))
    return (problems.length > 0 ? problems : all).slice(0, 3).join(' | ')
  }
  if (nginx !== undefined && fulcrum !== undefined) {
    return c.refused ? [] : [at('refusal', `both refused: nginx ${JSON.stringify(lines('nginx', nginx))}; fulcrum ${JSON.stringify(lines('fulcrum', fulcrum))}`)]
  }
  if (nginx !== undefined) return [at('refusal', `nginx refused, fulcrum started: ${JSON.stringify(lines('nginx', nginx))}`)]
  if (fulcrum !== undefined) return [at('refusal', `fulcrum refused, nginx started: ${JSON.stringify(lines('fulcrum', fulcrum))}`)]
  return []
}

function refusalOutcome(nginx: string | undefined, fulcrum: string | undefined): string {
  if (nginx !== undefined && fulcrum !== undefined) return 'both refused'
  return nginx !== undefined ? 'nginx refused' : fulcrum !== undefined ? 'fulcrum refused' : 'both accept'
}

/** Messages about the printed copies point at the user's files and lines instead. */
function backToOriginal(text: string, dir: string, printed: Printed): string {
  const escaped = dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return text.replace(new RegExp(`${escaped}/(?:nginx|fulcrum)\\.conf:(\\d+)`, 'g'), (whole, line: string) => {
    const o = printed.origin.get(Number(line))
    return o === undefined ? whole : `${o.file}:${o.line}`
  })
}

/** `nginx -t` on the file as it is (for files Fulcrum cannot read: nothing to rewrite), with nginx's own prefix. */
async function nginxTest(file: string, dir: string): Promise<string | undefined> {
  const r = await run(NGINX, ['-t', '-q', '-c', file, '-e', join(dir, 'nginx-error.log')])
  return r.code === 0 ? undefined : r.output
}

async function fulcrumValidate(file: string): Promise<string | undefined> {
  const r = await run(process.execPath, [CLI, 'validate', '-c', file, '--format', 'nginx'])
  return r.code === 0 ? undefined : r.output
}

async function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { output += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { output += c })
  const [code] = await once(child, 'close') as [number | null]
  return { code, output }
}

function address(p: Plan, ports: Ports, port: number, side: Side): { host: string; port: number } {
  return { host: p.v6Only.get(port) ? '::1' : '127.0.0.1', port: ports.listen.get(port)?.[side] ?? port }
}

/** Actual port -> the port the configuration wrote, for this side's listens and every backend. */
function portsBack(p: Plan, ports: Ports, side: Side): Map<number, number> {
  const map = new Map<number, number>()
  for (const [original, moved] of ports.listen) map.set(moved[side], original)
  for (const [key, moved] of ports.backend) map.set(moved, Number(/:(\d+)$/.exec(key)?.[1] ?? moved))
  return map
}

/** Ports of this run (4 or 5 digits, not part of an address's octets) put back to the configuration's. */
function renumber(text: string, undo: Map<number, number>): string {
  return text.replace(/(?<![\d.])\d{4,5}(?!\d)/g, (n) => String(undo.get(Number(n)) ?? n))
}

function normalise(o: Observed, undo: Map<number, number>): Observed {
  const fix = (s: string) => renumber(s, undo)
  const response: Response = { ...o.response, rawHeaders: o.response.rawHeaders.map(fix), body: fix(o.response.body) }
  const attempts = o.attempts.map((a): Attempt => ({ ...a, url: fix(a.url), rawHeaders: a.rawHeaders.map(fix), body: fix(a.body) }))
  return { response, attempts }
}

/** A log's lines; a log never written (nothing logged to it) has none. */
function readLog(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
  } catch {
    return []
  }
}

function describe(spec: RequestSpec): string {
  const parts = [spec.method ?? 'GET', spec.path ?? '/']
  if (spec.host !== undefined) parts.push(`Host ${spec.host}`)
  if (spec.client !== undefined) parts.push(`from ${spec.client}`)
  if (spec.bodyBytes !== undefined) parts.push(`body ${spec.bodyBytes} B`)
  return parts.join(' ')
}

/** A port free a moment ago on every address, IPv4 and IPv6 (as `listen 8080` and `listen [::]:8080` bind). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0)
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}
