/**
 * Compares what nginx and Fulcrum did with the same requests: which backends each request reached (the
 * exact sequence for deterministic methods, only "a server of the group" for hashed and random ones, and for
 * hashes that a repeated request sticks to one server), what the backend received (method, URI, headers but
 * Connection/Keep-Alive, their order, body), what the client got (status, the headers the configuration
 * sets, the body of answers no backend gave), and what each access log holds.
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
  /**
   * refusal, response (one side got none), status, served by, stickiness, backend method, backend uri,
   * backend header, backend header order, backend body, client header NAME, client body, access log N.
   */
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
    compareAttempt(a.attempts[i], b.attempts[i], add)
    if (out.length > before) break // the first attempt that differs is enough
  }

  const fromBackend = (o: Observed) => o.attempts.length > 0 && o.response.body.startsWith('backend ')
  const names = new Set([...p.addHeaders, 'location'])
  if (p.keepAliveHeader) names.add('keep-alive')
  if (!fromBackend(a) || !fromBackend(b)) names.add('content-type')
  for (const name of names) {
    const va = headerValue(a.response.rawHeaders, name, true)
    const vb = headerValue(b.response.rawHeaders, name, true)
    if (va !== vb) add(`client header ${name}`, `nginx ${show(va)}, fulcrum ${show(vb)}`)
  }
  if (!fromBackend(a) || !fromBackend(b)) {
    const ba = errorPage(a.response.body)
    const bb = errorPage(b.response.body)
    if (ba !== bb) {
      const [sa, sb] = around(ba, bb)
      add('client body', `nginx ${sa}, fulcrum ${sb}`)
    }
  }
  return out
}

/**
 * For ip_hash and hash, where which server answers may differ: the same request sent again (same client,
 * same key) must reach the same server on Fulcrum's side as it does on nginx's.
 */
export function compareStickiness(keys: readonly string[], a: readonly Observed[], b: readonly Observed[], p: Plan): Difference[] {
  const out: Difference[] = []
  const last = (o: Observed) => o.attempts[o.attempts.length - 1]?.backend
  const sticky = [...p.upstreams.values()].filter((u) => u.sticky)
  const groups = new Map<string, number[]>()
  keys.forEach((k, i) => groups.set(k, [...(groups.get(k) ?? []), i]))
  for (const indexes of groups.values()) {
    if (indexes.length < 2) continue
    const na = new Set(indexes.map((i) => last(a[i])))
    const nb = new Set(indexes.map((i) => last(b[i])))
    const all = [...na, ...nb]
    if (!sticky.some((u) => all.every((k) => k !== undefined && u.backends.includes(k)))) continue
    if (na.size === 1 && nb.size > 1) {
      const numbers = indexes.map((i) => `#${i + 1}`).join(', ')
      out.push({ request: indexes[0] + 1, label: `${numbers} (the same request)`, field: 'stickiness', text: `nginx always ${[...na][0]}, fulcrum ${[...nb].join(', ')}` })
    }
  }
  return out
}

function compareAttempt(a: Attempt, b: Attempt, add: (field: string, text: string) => void): void {
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
      missing.push(`${name}: nginx ${show(mine.join(', '))}, fulcrum ${show(other.join(', '))}`)
    }
  }
  for (const [name, value] of hb) {
    if (!ha.some(([n]) => n === name)) missing.push(`${name}: nginx (absent), fulcrum ${show(value)}`)
  }
  for (const m of missing) add('backend header', m)
  if (missing.length === 0) {
    // Host's place apart from the others' order: each has its own reason to differ.
    const na = ha.map(([n]) => n)
    const nb = hb.map(([n]) => n)
    const place = (names: string[]) => {
      const i = names.indexOf('host')
      return i < 0 ? 'absent' : i === 0 ? 'first' : `after ${names[i - 1]}`
    }
    if (place(na) !== place(nb)) add('backend header order', `host: nginx ${place(na)}, fulcrum ${place(nb)}`)
    const ra = na.filter((n) => n !== 'host').join(', ')
    const rb = nb.filter((n) => n !== 'host').join(', ')
    if (ra !== rb) add('backend header order', `nginx ${ra}; fulcrum ${rb}`)
  }
  if (a.body !== b.body) add('backend body', `nginx ${show(a.body)}, fulcrum ${show(b.body)}`)
}

/**
 * The lines of the Nth access log: which requests were logged and what each line says. Times differ from
 * run to run: `[22/Nov/2026:01:37:24 +0000]`, ISO times, and seconds with milliseconds (`$request_time`,
 * `$msec`, `$upstream_response_time`) are compared as placeholders.
 */
export function compareLogs(n: number, a: string[], b: string[]): Difference[] {
  const tidy = (line: string) => line
    .replace(/\[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]/g, '[TIME]')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}/g, 'TIME')
    .replace(/\b\d+\.\d{3}\b/g, 'SECONDS')
  const ta = a.map(tidy)
  const tb = b.map(tidy)
  const first = ta.findIndex((line, i) => line !== tb[i])
  const at = first >= 0 ? first : ta.length < tb.length ? ta.length : -1
  if (at < 0) return []
  const count = ta.length === tb.length ? '' : `nginx ${ta.length} lines, fulcrum ${tb.length}; `
  return [{ request: 0, label: `access log ${n}`, field: `access log ${n}`, text: `${count}line ${at + 1}: nginx ${show(a[at])}, fulcrum ${show(b[at])}` }]
}

/** Lower-case names with values, in order, without the hop-by-hop ones. */
function headerList(raw: readonly string[], all = false): [string, string][] {
  const out: [string, string][] = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase()
    if (all || !HOP.has(name)) out.push([name, raw[i + 1]])
  }
  return out
}

function headerValue(raw: readonly string[], name: string, all = false): string | undefined {
  const values = headerList(raw, all).filter(([n]) => n === name).map(([, v]) => v)
  return values.length === 0 ? undefined : values.join(', ')
}

/** nginx's error pages end with its name (and version); Fulcrum's say fulcrum, as the README states. */
function errorPage(body: string): string {
  return body.replace(/<hr><center>(nginx(\/[\d.]+)?|fulcrum)<\/center>/, '<hr><center>SERVER</center>')
}

function outcome(r: Response): string {
  return r.error !== undefined ? `got no response (${r.error})` : `answered ${r.status}`
}

/** Two long texts shown from a little before where they first differ. */
function around(a: string, b: string): [string, string] {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  const from = Math.max(0, i - 40)
  const cut = (s: string) => (from === 0 ? show(s) : `…${show(s.slice(from))}`)
  return [cut(a), cut(b)]
}

export function show(value: string | undefined): string {
  if (value === undefined) return '(absent)'
  const text = JSON.stringify(value)
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…"` : text
}
