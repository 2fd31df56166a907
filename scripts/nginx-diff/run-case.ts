/**
 * One case from start to end: read the configuration, start its recording backends, print nginx's and
 * Fulcrum's copies, start both, send the requests to nginx and then to Fulcrum (the same backends answer
 * both), compare, stop everything. Ports in what was recorded are put back to those of the configuration,
 * so `Host: localhost:8080` reads the same from both sides.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readNginxTree } from '../../src/config/nginx/include.ts'
import { Backends, type Attempt } from './backends.ts'
import { defaultRequests, expand, type Case, type Expected, type RequestSpec } from './case.ts'
import { send, type Response } from './client.ts'
import { compareRequest, type Difference, type Observed } from './compare.ts'
import { plan, print, type Plan, type Ports, type Printed, type Side } from './conf.ts'
import { NGINX, nginxPrefix, startFulcrum, startNginx, type Running } from './servers.ts'

export interface CaseResult {
  name: string
  requests: number
  /** What happened to the configuration: `served`, `both refused`, or who refused. */
  outcome: string
  unexplained: Difference[]
  explained: { difference: Difference; reason: string }[]
  /** Expected differences that did not happen (the README may be out of date). */
  stale: Expected[]
  /** Each request with what both sides did, for --verbose. */
  trace: { label: string; nginx: Observed; fulcrum: Observed }[]
}

export async function runCase(c: Case, options: { keep?: boolean } = {}): Promise<CaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-diff-'))
  // As root, nginx's workers run as nobody and must reach their temp folders in here.
  chmodSync(dir, 0o755)
  const result: CaseResult = { name: c.name, requests: 0, outcome: 'served', unexplained: [], explained: [], stale: [], trace: [] }
  const differences: Difference[] = []
  let backends: Backends | undefined
  const running: Running[] = []
  try {
    const tree = readNginxTree(c.conf)
    if (tree.problems.length > 0) {
      // Not readable as nginx syntax: only whether each side refuses it can be compared.
      const [nginx, fulcrum] = await Promise.all([nginxTest(c.conf, dir), fulcrumValidate(c.conf)])
      differences.push(...refusals(c, nginx, fulcrum, { nginx: (s) => s, fulcrum: (s) => s }))
      result.outcome = refusalOutcome(nginx, fulcrum)
      return result
    }
    const p = plan(tree.directives)
    backends = await Backends.start(p.backends, c.backends)
    const ports: Ports = { listen: new Map(), backend: backends.ports }
    for (const port of p.ports) ports.listen.set(port, { nginx: await freePort(), fulcrum: await freePort() })
    const printed = {} as Record<Side, Printed>
    for (const side of ['nginx', 'fulcrum'] as const) {
      printed[side] = print(tree.directives, side, ports, p.upstreams, { dir, mainFile: c.conf, nginxPrefix: nginxPrefix() })
      writeFileSync(join(dir, `${side}.conf`), printed[side].text)
    }
    const targets = (side: Side) => p.ports.map((port) => address(p, ports, port, side))
    const [nginx, fulcrum] = await Promise.all([
      startNginx(join(dir, 'nginx.conf'), dir, targets('nginx')),
      startFulcrum(join(dir, 'fulcrum.conf'), targets('fulcrum')),
    ])
    if (nginx.ok) running.push(nginx.server)
    if (fulcrum.ok) running.push(fulcrum.server)
    if (!nginx.ok || !fulcrum.ok) {
      const refusedN = nginx.ok ? undefined : nginx.output
      const refusedF = fulcrum.ok ? undefined : fulcrum.output
      const back = (side: Side) => (text: string) => renumber(backToOriginal(text, dir, printed.nginx), portsBack(p, ports, side))
      differences.push(...refusals(c, refusedN, refusedF, { nginx: back('nginx'), fulcrum: back('fulcrum') }))
      result.outcome = refusalOutcome(refusedN, refusedF)
      return result
    }
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
    return result
  } finally {
    await Promise.all(running.map((r) => r.stop()))
    await backends?.close()
    if (!options.keep) rmSync(dir, { recursive: true, force: true })
    classify(c, differences, result)
  }
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
  const lines = (side: Side, s: string) => back[side](s).split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^fulcrum: not started/.test(l)).slice(0, 3).join(' | ')
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

/** `nginx -t` on the file as it is (for files that are not valid syntax: nothing to rewrite). */
async function nginxTest(file: string, dir: string): Promise<string | undefined> {
  const r = await run(NGINX, ['-t', '-q', '-p', `${dir}/`, '-c', file, '-e', join(dir, 'nginx-error.log')])
  return r.code === 0 ? undefined : r.output
}

async function fulcrumValidate(file: string): Promise<string | undefined> {
  const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname
  const r = await run(process.execPath, [cli, 'validate', '-c', file, '--format', 'nginx'])
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

function describe(spec: RequestSpec): string {
  const parts = [spec.method ?? 'GET', spec.path ?? '/']
  if (spec.host !== undefined) parts.push(`Host ${spec.host}`)
  if (spec.client !== undefined) parts.push(`from ${spec.client}`)
  if (spec.bodyBytes !== undefined) parts.push(`body ${spec.bodyBytes} B`)
  return parts.join(' ')
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}
