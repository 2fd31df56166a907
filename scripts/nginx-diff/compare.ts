/**
 * Compares what nginx and Fulcrum did with the same requests: which backends each request reached (the
 * exact sequence for deterministic methods, only "a server of the group" for hashed and random ones), what
 * the backend received (method, URI, headers but Connection/Keep-Alive, their order, body), and what the
 * client got (status, the headers the configuration sets, the body of answers no backend gave).
 */
import type { Attempt } from './backends.ts'
import type { Response } from './client.ts'
import type { Plan } from './conf.ts'

export interface Observed {
  response: Response
  attempts: Attempt[]
}

export interface Difference {
  /** 1-based request number, 0 for the configuration itself. */
  request: number
  /** e.g. `GET /api/x Host a.example.com`. */
  label: string
  /** status, served by, backend method, backend uri, backend header, backend header order, backend body, client header NAME, client body, response, refusal. */
  field: string
  text: string
}

/** Headers every proxy may set its own way: hop-by-hop, for the connection only. */
const HOP = new Set(['connection', 'keep-alive'])
const MAX_SHOWN = 160

export function compareRequest(n: number, label: string, a: Observed, b: Observed, p: Plan): Difference[] {
  const out: Difference[] = []
  const add = (field: string, text: string) => out.push({ request: n, label, field, text })
  if (a.response.error !== undefined || b.response.error !== undefined) {
    if (a.response.error === undefined || b.response.error === undefined) add('response', `nginx ${outcome(a.response)}, fulcrum ${outcome(b.response)}`)
    return out
  }
  if (a.response.status !== b.response.status) add('status', `nginx ${a.response.status}, fulcrum ${b.response.status}`)

  const na = a.attempts.map((t) => t.backend)
  const nb = b.attempts.map((t) => t.backend)
  const hashed = [...p.upstreams.values()].some((u) => u.determinism === 'member' && [...na, ...nb].every((k) => u.backends.includes(k)))
  if (hashed ? na.length !== nb.length : na.join(' ') !== nb.join(' ')) {
    add('served by', `nginx ${na.join(' then ') || 'no backend'}, fulcrum ${nb.join(' then ') || 'no backend'}${hashed ? ' (any server of the group would do)' : ''}`)
  }
  for (let i = 0; i < Math.min(a.attempts.length, b.attempts.length); i++) {
    const before = out.length
    compareAttempt(a.attempts[i], b.attempts[i], hashed, add)
    if (out.length > before) break // the first attempt that differs is enough
  }

  const fromBackend = (o: Observed) => o.attempts.length > 0 && o.response.body.startsWith('backend ')
  const names = new Set([...p.addHeaders, 'location'])
  if (!fromBackend(a) || !fromBackend(b)) names.add('content-type')
  for (const name of names) {
    const va = headerValue(a.response.rawHeaders, name)
    const vb = headerValue(b.response.rawHeaders, name)
    if (va !== vb) add(`client header ${name}`, `nginx ${show(va)}, fulcrum ${show(vb)}`)
  }
  if (!fromBackend(a) || !fromBackend(b)) {
    const ba = errorPage(a.response.body)
    const bb = errorPage(b.response.body)
    if (ba !== bb) add('client body', `nginx ${show(ba)}, fulcrum ${show(bb)}`)
  }
  return out
}

function compareAttempt(a: Attempt, b: Attempt, hashed: boolean, add: (field: string, text: string) => void): void {
  if (a.method !== b.method) add('backend method', `nginx ${a.method}, fulcrum ${b.method}`)
  if (a.url !== b.url) add('backend uri', `nginx ${show(a.url)}, fulcrum ${show(b.url)}`)
  const ha = headerList(a.rawHeaders)
  const hb = headerList(b.rawHeaders)
  const missing: string[] = []
  for (const [name, value] of ha) {
    const other = hb.filter(([n]) => n === name).map(([, v]) => v)
    const mine = ha.filter(([n]) => n === name).map(([, v]) => v)
    if (other.length === 0) missing.push(`${name}: nginx ${show(value)}, fulcrum (absent)`)
    else if (mine.join('\n') !== other.join('\n') && !missing.some((m) => m.startsWith(`${name}:`))) {
      // The Host of a hashed group's server names the server picked, which may differ.
      if (!(hashed && name === 'host')) missing.push(`${name}: nginx ${show(mine.join(', '))}, fulcrum ${show(other.join(', '))}`)
    }
  }
  for (const [name, value] of hb) {
    if (!ha.some(([n]) => n === name)) missing.push(`${name}: nginx (absent), fulcrum ${show(value)}`)
  }
  for (const m of missing) add('backend header', m)
  if (missing.length === 0) {
    const oa = ha.map(([n]) => n).join(', ')
    const ob = hb.map(([n]) => n).join(', ')
    if (oa !== ob) add('backend header order', `nginx ${oa}; fulcrum ${ob}`)
  }
  if (a.body !== b.body) add('backend body', `nginx ${show(a.body)}, fulcrum ${show(b.body)}`)
}

/** Lower-case names with values, in order, without the hop-by-hop ones. */
function headerList(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase()
    if (!HOP.has(name)) out.push([name, raw[i + 1]])
  }
  return out
}

function headerValue(raw: readonly string[], name: string): string | undefined {
  const values = headerList(raw).filter(([n]) => n === name).map(([, v]) => v)
  return values.length === 0 ? undefined : values.join(', ')
}

/** nginx's error pages end with its name (and version); Fulcrum's say fulcrum, as the README states. */
function errorPage(body: string): string {
  return body.replace(/<hr><center>(nginx(\/[\d.]+)?|fulcrum)<\/center>/, '<hr><center>SERVER</center>')
}

function outcome(r: Response): string {
  return r.error !== undefined ? `got no response (${r.error})` : `answered ${r.status}`
}

export function show(value: string | undefined): string {
  if (value === undefined) return '(absent)'
  const text = JSON.stringify(value)
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…"` : text
}
