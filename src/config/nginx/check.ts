/**
 * The structural checks of `nginx -t`: every directive is known, stands where nginx allows it, has the
 * right number of arguments, `on`/`off` where a flag is expected, and appears once where it may only
 * appear once. The translator then reads only directives that passed.
 */
import { closest } from '../suggest.ts'
import { contextName, knownNames, specsOf, UNSUPPORTED } from './directives.ts'
import type { Context, Spec } from './directives.ts'
import type { NginxProblem } from './problems.ts'
import type { Directive } from './syntax.ts'

export interface Checked {
  problems: NginxProblem[]
  /** Directives that passed, with the context they stand in and the spec that applies. */
  valid: Map<Directive, { context: Context; spec: Spec }>
  /** Accepted without effect: first place of each name, in file order. */
  noEffect: Map<string, Directive>
}

/** Where the misplaced directive belongs, when a plain "allowed in …" would not say enough. */
const MOVE_HINTS: Record<string, string> = {
  'upstream@server': 'move the upstream block into "http" (next to the server blocks)',
  'upstream@location': 'move the upstream block into "http" (next to the server blocks)',
  'location@http': 'put it inside a server block',
  'listen@http': 'put it inside a server block',
  'server_name@http': 'put it inside a server block',
  'server@server': 'close the first server block with "}" before starting the next',
  'proxy_pass@server': 'put it inside a location block (location / { proxy_pass …; })',
  'proxy_pass@http': 'put it inside a location block of a server',
  'http@http': 'a configuration has one http block; merge them',
  'server@main': 'put it inside http { } (a file of server blocks is meant to be included from http)',
  'location@main': 'put it inside a server block in http',
}

export function checkStructure(directives: readonly Directive[]): Checked {
  const result: Checked = { problems: [], valid: new Map(), noEffect: new Map() }
  const names = knownNames()
  const stack: { list: readonly Directive[]; index: number; context: Context; seen: Map<string, Directive> }[] = [
    { list: directives, index: 0, context: 'main', seen: new Map() },
  ]
  const nginx = (d: Directive, message: string) => result.problems.push({ file: d.file, line: d.line, message, tier: 'nginx' })
  const fulcrum = (d: Directive, message: string) => result.problems.push({ file: d.file, line: d.line, message, tier: 'fulcrum' })

  while (stack.length > 0) {
    const top = stack[stack.length - 1]
    if (top.index >= top.list.length) {
      stack.pop()
      continue
    }
    const d = top.list[top.index++]
    // Inside types {} every line is "mime/type extension…": nothing to check.
    if (top.context === 'types' || d.name === '') continue
    const specs = specsOf(d.name)
    if (specs.length === 0) {
      if (Object.hasOwn(UNSUPPORTED, d.name)) fulcrum(d, `"${d.name}" is not supported: ${UNSUPPORTED[d.name]}`)
      else {
        const guess = closest(d.name, names)
        nginx(d, `unknown directive "${d.name}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`)
      }
      continue
    }
    const here = specs.find((s) => s.contexts.includes(top.context))
    if (here === undefined) {
      const allowed = [...new Set(specs.flatMap((s) => s.contexts))].map(contextName)
      const hint = MOVE_HINTS[`${d.name}@${top.context}`] ?? `it belongs in ${joinOr(allowed)}`
      nginx(d, `"${d.name}" is not allowed in ${contextName(top.context)}; ${hint}`)
      continue
    }
    const [min, max] = here.args
    if (d.args.length < min || d.args.length > max) {
      nginx(d, `"${d.name}" takes ${countText(min, max)}, found ${d.args.length}; write ${here.usage}`)
      continue
    }
    if (here.block !== undefined && d.block === undefined) {
      nginx(d, `"${d.name}" needs a block; write ${here.usage}`)
      continue
    }
    if (here.block === undefined && d.block !== undefined) {
      nginx(d, `"${d.name}" takes no block; write ${here.usage};`)
      continue
    }
    if (here.flag === true && d.args[0] !== 'on' && d.args[0] !== 'off') {
      nginx(d, `"${d.name}" must be on or off, found "${d.args[0]}"`)
      continue
    }
    if (here.multi !== true) {
      const first = top.seen.get(d.name)
      if (first !== undefined) {
        nginx(d, `"${d.name}" is duplicate (first on ${first.file === d.file ? '' : `${first.file}:`}line ${first.line}); keep one`)
        continue
      }
      top.seen.set(d.name, d)
    }
    result.valid.set(d, { context: top.context, spec: here })
    if (here.noEffect === true && !result.noEffect.has(d.name)) result.noEffect.set(d.name, d)
    if (d.block !== undefined && here.block !== undefined) {
      stack.push({ list: d.block, index: 0, context: here.block, seen: new Map() })
    }
  }
  return result
}

function countText(min: number, max: number): string {
  const n = (k: number) => `${k} argument${k === 1 ? '' : 's'}`
  if (min === max) return min === 0 ? 'no arguments' : n(min)
  if (max === Infinity) return `at least ${n(min)}`
  if (min === 0) return `at most ${n(max)}`
  return `${min} to ${n(max)}`
}

function joinOr(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`
}
