/**
 * Turns zod issues into findings that say what was found and what is expected, in plain words, instead of
 * zod's "Invalid input". The value shown as "found" is read from the parsed file, not from the issue.
 */
import type { z } from 'zod'
import { DURATION_HINT } from './duration.ts'
import { describeValue, quote, valueAt } from './problem.ts'
import type { Finding, Path } from './problem.ts'
import { duration, target } from './schema.ts'
import { allowedKeys, schemaAt, unwrapChain } from './schema-walk.ts'
import { didYouMean } from './suggest.ts'

type Issue = z.core.$ZodIssue
type Schema = z.ZodType

const NOUNS: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'a whole number', bigint: 'a whole number',
  boolean: 'true or false', object: 'a mapping', record: 'a mapping', array: 'a list', null: 'an empty value',
}

/** Unions whose branch-by-branch description would be less clear than one phrase. */
const UNION_PHRASES = new Map<Schema, string>([
  [duration, DURATION_HINT],
  [target, '"host:port" or a mapping with address (and optional weight, maxConns, backup)'],
])

/** One finding per zod issue (one per key for unknown keys), in zod's order. */
export function findingsFromIssues(issues: readonly Issue[], data: unknown, root: Schema): Finding[] {
  const out: Finding[] = []
  for (const issue of issues) mapIssue(issue, [], data, root, out)
  return out
}

function mapIssue(issue: Issue, prefix: Path, data: unknown, root: Schema, out: Finding[]): void {
  const path: Path = [...prefix, ...issue.path.map((s) => (typeof s === 'number' ? s : String(s)))]
  const found = valueAt(data, path)
  const shown = describeValue(found)
  switch (issue.code) {
    case 'invalid_type': {
      const parent = valueAt(data, path.slice(0, -1))
      const key = path[path.length - 1]
      if (found === undefined && key !== undefined && isObject(parent) && !Object.hasOwn(parent, key)) {
        out.push({ path: path.slice(0, -1), message: `missing required key ${quote(String(key))}` })
        return
      }
      const expected = NOUNS[issue.expected] ?? `a ${issue.expected}`
      out.push({ path, message: `expected ${expected}, found ${shown}${typeHint(issue.expected, found)}` })
      return
    }
    case 'unrecognized_keys': {
      const allowed = allowedKeys(root, path, data)
      const list = allowed.length > 0 ? ` (expected one of: ${allowed.join(', ')})` : ''
      for (const key of issue.keys) {
        out.push({ path: [...path, key], at: 'key', message: `unknown key ${quote(key)}${didYouMean(key, allowed)}${list}` })
      }
      return
    }
    case 'invalid_value': {
      const values = issue.values.map(formatLiteral)
      if (values.length === 1) out.push({ path, message: `expected ${values[0]}, found ${shown}` })
      else {
        const hint = typeof found === 'string' ? didYouMean(found, issue.values.map(String)) : ''
        out.push({ path, message: `expected one of: ${issue.values.join(', ')}; found ${shown}${hint}` })
      }
      return
    }
    case 'too_small':
    case 'too_big':
      out.push({ path, message: `${rangeMessage(issue)}, found ${shown}` })
      return
    case 'invalid_format':
      out.push({ path, message: formatMessage(issue, found) })
      return
    case 'not_multiple_of':
      out.push({ path, message: `expected a multiple of ${issue.divisor}, found ${shown}` })
      return
    case 'invalid_key': {
      // A bad record key, e.g. a target group name: explain using the key itself as the value.
      const key = path[path.length - 1]
      const why = issue.issues.map((i) => {
        if (!i.message.startsWith('Invalid')) return i.message // written in the schema for this very case
        const inner: Finding[] = []
        mapIssue(i, [], key, root, inner)
        return inner.map((f) => f.message).join('; ')
      }).join('; ')
      out.push({ path, at: 'key', message: `invalid name ${quote(String(key))}: ${why}` })
      return
    }
    case 'invalid_union':
      mapUnion(issue, path, found, data, root, out)
      return
    default:
      out.push({ path, message: issue.message })
  }
}

/**
 * Reports the most relevant branch of a failed union. A branch that failed only because the value has
 * another type says little; among the rest, the one that got deepest (then with fewest issues) is the one
 * the author meant. When every branch is a type mismatch, say what each would have accepted.
 */
function mapUnion(issue: z.core.$ZodIssueInvalidUnion, path: Path, found: unknown, data: unknown, root: Schema, out: Finding[]): void {
  const choice = issue as { note?: string; discriminator?: string; options?: unknown[] }
  if (choice.note === 'No matching discriminator' && choice.discriminator !== undefined) {
    // No option has this discriminator value (a listener's protocol): name the ones that exist.
    const values = (choice.options ?? []).map(String)
    const value = valueAt(data, path)
    const hint = typeof value === 'string' ? didYouMean(value, values) : ''
    out.push(value === undefined
      ? { path: path.slice(0, -1), message: `missing required key ${quote(choice.discriminator)} (one of: ${values.join(', ')})` }
      : { path, message: `expected one of: ${values.join(', ')}; found ${describeValue(value)}${hint}` })
    return
  }
  const branches = issue.errors.filter((b) => b.length > 0)
  const relevant = branches.filter((b) => !b.every(isShallowMismatch))
  if (relevant.length > 0) {
    const depth = (b: Issue[]) => Math.max(...b.map((i) => i.path.length))
    relevant.sort((a, b) => depth(b) - depth(a) || a.length - b.length)
    for (const inner of relevant[0]) mapIssue(inner, path, data, root, out)
    return
  }
  const schema = schemaAt(root, path)
  const phrase = schema === undefined ? undefined : unwrapChain(schema).map((s) => UNION_PHRASES.get(s)).find(Boolean)
  const expected = new Set<string>()
  let hint = ''
  for (const i of branches.flat()) {
    if (i.code === 'invalid_type') {
      expected.add(NOUNS[i.expected] ?? `a ${i.expected}`)
      hint ||= typeHint(i.expected, found)
    }
    if (i.code === 'invalid_value') for (const v of i.values) expected.add(formatLiteral(v))
  }
  const what = phrase ?? (expected.size > 0 ? joinOr([...expected]) : 'another kind of value')
  out.push({ path, message: `expected ${what}, found ${describeValue(found)}${hint}` })
}

function isShallowMismatch(issue: Issue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value')
}

function rangeMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small'
  const limit = small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum
  const bound = issue.inclusive === false ? (small ? 'more than' : 'less than') : small ? 'at least' : 'at most'
  if (issue.origin === 'string') {
    return small && limit === 1 ? 'expected a non-empty string' : `expected ${bound} ${limit} characters`
  }
  if (issue.origin === 'array' || issue.origin === 'set') return `expected a list with ${bound} ${limit} item${limit === 1 ? '' : 's'}`
  return `expected a number of ${bound} ${limit}`
}

function formatMessage(issue: z.core.$ZodIssueInvalidStringFormat, found: unknown): string {
  const shown = describeValue(found)
  const f = issue as z.core.$ZodIssueInvalidStringFormat & { prefix?: string; suffix?: string; includes?: string }
  if (f.format === 'starts_with' && f.prefix !== undefined) {
    const fix = typeof found === 'string' ? `; write ${quote(f.prefix + found)}` : ''
    return `expected text starting with ${quote(f.prefix)}, found ${shown}${fix}`
  }
  if (f.format === 'ends_with' && f.suffix !== undefined) return `expected text ending with ${quote(f.suffix)}, found ${shown}`
  if (f.format === 'includes' && f.includes !== undefined) return `expected text containing ${quote(f.includes)}, found ${shown}`
  // A message written in the schema (it does not start with zod's "Invalid") already says what is expected.
  if (!issue.message.startsWith('Invalid')) return `${issue.message}, found ${shown}`
  if (f.format === 'regex' && f.pattern !== undefined) return `expected text matching ${f.pattern}, found ${shown}`
  return `expected ${f.format}, found ${shown}`
}

/** How to fix the common YAML slip of quoting a number or a boolean. */
function typeHint(expected: string, found: unknown): string {
  if (typeof found !== 'string') return ''
  if ((expected === 'number' || expected === 'int') && found.trim() !== '' && Number.isFinite(Number(found))) {
    return `; write ${found.trim()} without quotes`
  }
  if (expected === 'boolean' && /^(true|false)$/i.test(found)) return `; write ${found.toLowerCase()} without quotes`
  return ''
}

function formatLiteral(value: unknown): string {
  return typeof value === 'string' ? quote(value) : String(value)
}

function joinOr(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
