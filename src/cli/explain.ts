/**
 * `fulcrum explain -c FILE 'GET https://api.example.com/v1/users' [--header K:V]... [--client IP] [--json]`:
 * which listener, route and target group take that request, and which target would be picked now, with
 * the reason for every route and target passed over. "Now" means the running balancer's target states and
 * requests in flight, from its admin API (found as for the other admin commands); when it cannot be
 * reached, every target is taken as healthy with nothing in flight, and the output says so.
 * Exit 0 with an explanation, 1 when the file is invalid or no listener fits, 2 for a malformed request.
 */
import { resolve } from 'node:path'
import { adminClient, CliError, type AdminFlags } from './admin-client.ts'
import { explainRequest, parseRequest, type Explanation, type Live } from './explain-request.ts'
import type { StatusView } from './status.ts'
import { formatProblem, loadConfig } from '../config/load.ts'
import { colourEnabled, painter, STATE_STYLE, type Paint } from '../colour.ts'

export interface ExplainOptions extends AdminFlags {
  readonly config: string
  readonly request: string
  readonly headers: readonly string[]
  readonly client: string | undefined
  readonly json: boolean
}

export async function runExplain(o: ExplainOptions): Promise<number> {
  const req = parseRequest(o.request, o.headers, o.client)
  if ('error' in req) {
    console.error(`fulcrum: ${req.error}`)
    return 2
  }
  const loaded = await loadConfig(o.config)
  if (!loaded.ok) {
    for (const p of loaded.problems) console.error(formatProblem(p))
    console.error(`fulcrum: ${o.config} has ${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'}; nothing to explain`)
    return 1
  }
  const { live, states } = await liveView(o)
  const e = explainRequest(loaded.config, req, live)
  if ('error' in e) {
    console.error(`fulcrum: ${e.error}`)
    return 1
  }
  if (o.json) console.log(JSON.stringify({ ...e, states }, null, 2))
  else console.log(renderExplanation(e, states.text, painter(colourEnabled(process.stdout))))
  return 0
}

interface States {
  /** admin-api: live states; assumed: all healthy, nothing in flight. */
  readonly source: 'admin-api' | 'assumed'
  readonly text: string
}

/** The running balancer's status, or why there is none. Never fails: explain works without a balancer. */
async function liveView(o: ExplainOptions): Promise<{ live: Live; states: States }> {
  let url = 'the admin API'
  try {
    const client = await adminClient(o)
    url = client.url
    const status = await client.call<StatusView>('GET', '/api/v1/status')
    const other = resolve(status.configFile) === resolve(o.config) ? '' : `; it serves ${status.configFile}, so states are matched by group and address`
    return { live: status, states: { source: 'admin-api', text: `from the running balancer at ${url} (pid ${status.pid})${other}` } }
  } catch (err) {
    if (!(err instanceof CliError)) throw err
    return { live: undefined, states: { source: 'assumed', text: `assumed: every target healthy with nothing in flight (${err.message.replace(/ — .*$/, '')})` } }
  }
}

export function renderExplanation(e: Explanation, states: string, paint: Paint = painter(false)): string {
  const r = e.request
  const out: string[] = []
  const extra = Object.entries(r.headers).filter(([k]) => k !== 'host').map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`)
  out.push(`${paint('bold', `${r.method} ${r.url}`)}`)
  out.push(`  Host ${String(r.headers.host)}, path ${r.target}, client ${r.clientIp}${extra.length === 0 ? '' : `, ${extra.join(', ')}`}`)
  out.push('')
  out.push(`listener ${paint('bold', e.listener.name)} (${e.listener.listen}): ${e.listener.chosenBy}`)
  if (e.server !== null) out.push(`  server ${e.server.names.length === 0 ? '(no name)' : e.server.names.join(' ')}: ${e.server.how}`)
  if (e.uri !== null) out.push(`  URI ${e.uri} (normalised, as locations see it)`)
  for (const v of e.routes) {
    const verdict = v.matched ? paint('green', 'taken') : paint('grey', 'passed over')
    out.push(`  ${v.label} ${verdict}: ${v.reasons.join('; ')}`)
    if (v.matched) out.push(`    ${v.description}`)
  }
  if (e.server === null && e.routes.length === 0) out.push('  the listener has no routes')
  out.push(`${e.groups.length > 0 ? '=>' : paint(/^\d{3}:|answers 404/.test(e.outcome) ? 'yellow' : 'bold', '=>')} ${e.outcome}`)
  for (const g of e.groups) {
    out.push('')
    const target = g.target === null ? paint('red', 'no target: 503') : paint('bold', g.target)
    out.push(`target group ${paint('bold', g.name)} (${g.algorithm}${e.groups.length > 1 ? `, ${Math.round(g.share * 1000) / 10}% of this route` : ''}): ${target}`)
    out.push(`  ${g.mode}`)
    const width = Math.max(...g.targets.map((t) => t.address.length))
    for (const t of g.targets) {
      const state = t.state.padEnd(9)
      const mark = t.eligible ? (t.address === g.target ? 'picked' : 'eligible') : `skipped: ${t.reason}`
      out.push(`  ${t.address.padEnd(width)}  ${STATE_STYLE[t.state] === undefined ? state : paint(STATE_STYLE[t.state], state)}  weight ${t.weight}${t.backup ? ' (backup)' : ''}, ${t.inFlight} in flight  ${mark}`)
    }
    if (g.targets.length === 0) out.push('  (no targets)')
    out.push(`  ${g.note}`)
  }
  if (e.notes.length > 0 || e.groups.length > 0) out.push('')
  for (const n of e.notes) out.push(`note: ${n}`)
  if (e.groups.length > 0) out.push(`target states: ${states}`)
  return out.join('\n')
}
